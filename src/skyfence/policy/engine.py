"""The decision engine: a compiled policy decides, for a terminal at a place and time,
whether it is served, in which state the place is, and which rule decided.

One kernel, :meth:`CompiledPolicy._kernel`, works on columns of rows. ``decide`` calls it
with one row and ``decide_batch`` with millions, so the two cannot disagree.

Precedence (documented in ``docs/policy.md``)
---------------------------------------------
1. Among the activation rules in force at the row's time whose region contains the point,
   the **most specific region wins**: the one with the smallest area (geodesic km²).
2. Areas equal to six significant digits are a tie; a tie is won by the most restrictive
   state (``denied`` > ``suspended`` > ``not_licensed`` > ``pending_licence`` > ``waitlist``
   > ``coming_soon`` > ``active``), then by the rule written first in the file.
3. A point no rule covers is ``not_licensed``; at sea (outside every country of the
   worldview) an in-force ``maritime`` terminal rule may give it ``open_sea_state``.
4. Only ``active`` serves. Then the terminal rules are checked; every failed check is a
   reason, and the first in the order invalid_input, region_state, whitelist, speed,
   altitude, roaming, maritime is the primary reason with its rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import numpy as np

from skyfence.errors import InputError
from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km
from skyfence.policy.model import (
    PLANS,
    SEVERITY,
    STATES,
    ActivationRule,
    Policy,
    TerminalRegistry,
    TerminalRule,
    normalize_region_expr,
)
from skyfence.timeutil import datetime64_to_iso, parse_time

__all__ = [
    "CompiledPolicy",
    "Decision",
    "BatchDecision",
    "REASONS",
    "RegionLike",
    "RegionIndexLike",
]

#: Reason codes of :class:`BatchDecision` (``REASONS[code]``); bit ``1 << code`` in
#: ``reasons_mask``. The order is also the priority of the primary reason.
REASONS: tuple[str, ...] = (
    "ok",
    "invalid_input",
    "region_state",
    "whitelist",
    "speed",
    "altitude",
    "roaming",
    "maritime",
)
_R = {name: i for i, name in enumerate(REASONS)}
_STATE = {name: i for i, name in enumerate(STATES)}
_ACTIVE = _STATE["active"]
_NOT_LICENSED = _STATE["not_licensed"]
_T_MIN = np.iinfo(np.int64).min  # NaT as int64
_T_MAX = np.iinfo(np.int64).max
_NS_PER_DAY = 86_400 * 1_000_000_000
_PLAN_BIT = {p: 1 << i for i, p in enumerate(PLANS)}
_KINDS = ("whitelist_only", "speed_limit", "altitude", "roaming", "maritime")
_KIND_REASON = {
    "whitelist_only": "whitelist",
    "speed_limit": "speed",
    "altitude": "altitude",
    "roaming": "roaming",
    "maritime": "maritime",
}
_COLUMNS = (
    "terminal_id",
    "terminal_index",
    "lat",
    "lon",
    "time",
    "speed_kmh",
    "altitude_m",
    "trip_started",
)


class RegionLike(Protocol):
    """What the engine needs of a region (``skyfence.regions.Region`` has it)."""

    id: str
    name: str
    geometry: Any

    @property
    def area_km2(self) -> float: ...


class RegionIndexLike(Protocol):
    """What the engine needs of a region index (``skyfence.regions.RegionIndex`` has it)."""

    regions: Sequence[Any]

    def lookup(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray: ...

    def memberships(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class Decision:
    """The answer for one request.

    ``state`` is the activation state at the place (``"invalid_input"`` when the request
    itself is invalid); ``region`` the region expression of the activation rule that set
    it (``None`` if no rule covers the place); ``rule_id`` the rule that decided: for a
    denial the rule behind the primary reason, for a grant the activation rule; ``reason``
    the primary reason code (``"ok"`` when allowed) and ``reasons`` one sentence per
    failed check, each naming its rule.
    """

    allowed: bool
    state: str
    region: str | None
    rule_id: str | None
    reasons: list[str]
    reason: str = "ok"
    terminal_id: str = ""
    country: str | None = None
    time: str = ""


@dataclass(frozen=True)
class BatchDecision:
    """Column results of :meth:`CompiledPolicy.decide_batch`, one entry per row.

    Attributes
    ----------
    allowed : bool (N,)
    state : int8 (N,)  index into :data:`skyfence.policy.STATES`; -1 for invalid rows
    region : int32 (N,)  index into ``policy.regions`` of the deciding activation rule's
        region (-1: none)
    rule : int32 (N,)  index into ``policy.rule_ids`` of the deciding rule (-1: none, e.g.
        an unlisted place)
    reason : uint8 (N,)  primary reason code, index into :data:`REASONS` (0 = ok)
    reasons_mask : uint16 (N,)  bit ``1 << code`` set for every failed check
    country : int32 (N,)  index into ``policy.countries.regions`` (-1: at sea / none)
    """

    allowed: np.ndarray
    state: np.ndarray
    region: np.ndarray
    rule: np.ndarray
    reason: np.ndarray
    reasons_mask: np.ndarray
    country: np.ndarray
    rule_ids: tuple[str, ...] = field(default=(), repr=False)

    def __len__(self) -> int:
        return len(self.allowed)

    def state_names(self) -> np.ndarray:
        """State of each row as text (``"invalid_input"`` for invalid rows)."""
        names = np.array([*STATES, "invalid_input"], dtype=object)
        return names[np.where(self.state < 0, len(STATES), self.state)]

    def reason_names(self) -> np.ndarray:
        """Primary reason of each row as text."""
        return np.array(REASONS, dtype=object)[self.reason]

    def rule_names(self) -> np.ndarray:
        """Deciding rule id of each row (``None`` where no rule decided)."""
        names = np.array([*self.rule_ids, None], dtype=object)
        return names[np.where(self.rule < 0, len(self.rule_ids), self.rule)]


@dataclass
class _Bound:
    """Per-registry arrays (row n = an unregistered terminal)."""

    plan_bits: np.ndarray
    country: np.ndarray
    speed_exempt: np.ndarray
    trip: np.ndarray
    whitelisted: np.ndarray  # (n + 1, number of whitelist rules)
    registry: TerminalRegistry
    py: dict[str, list[Any]] = field(default_factory=dict)  # the same as lists (fast path)

    def __post_init__(self) -> None:
        self.py = {
            "plan_bits": self.plan_bits.tolist(),
            "country": self.country.tolist(),
            "speed_exempt": self.speed_exempt.tolist(),
            "trip": self.trip.tolist(),
            "whitelisted": [tuple(r) for r in self.whitelisted.tolist()],
        }


def _default_resolve() -> Callable[[str], Any]:
    from skyfence.regions import parse_region, world

    w = world()
    return lambda expr: parse_region(expr, w)


class CompiledPolicy:
    """A policy compiled once for fast decisions.

    Parameters
    ----------
    policy : Policy
    resolve : callable, optional
        ``expr -> Region``; default ``skyfence.regions.parse_region(expr, world())``.
    countries : RegionIndex, optional
        Index of the countries of the worldview (non-overlapping); default
        ``world().index()``. It tells which country a point is in (roaming) and whether it
        is at sea (maritime).
    index_factory : callable, optional
        ``list[Region] -> RegionIndex`` for the rule regions that are not countries;
        default ``skyfence.regions.RegionIndex``.
    coast_step_deg : float
        Spacing to which country boundaries are densified for the distance-to-land search
        of maritime rules (0.02° ≈ 2.2 km, so distances are good to about 1.1 km).

    Examples
    --------
    >>> import shapely
    >>> from skyfence.policy import parse_policy, Terminal, TerminalRegistry
    >>> from skyfence.policy.testing import box_region, SimpleIndex
    >>> land = box_region("AA", 0, 0, 10, 10, kind="country")
    >>> policy = parse_policy("rules: [{id: a, region: AA, state: active}]")
    >>> cp = policy.compile(resolve={"AA": land}.__getitem__,
    ...                     countries=SimpleIndex([land]), index_factory=SimpleIndex)
    >>> reg = TerminalRegistry([Terminal("T1", "AA", "fixed")])
    >>> cp.decide("T1", 5.0, 5.0, "2026-03-01T00:00:00Z", registry=reg).allowed
    True
    """

    def __init__(
        self,
        policy: Policy,
        *,
        resolve: Callable[[str], Any] | None = None,
        countries: RegionIndexLike | None = None,
        index_factory: Callable[[list[Any]], RegionIndexLike] | None = None,
        coast_step_deg: float = 0.02,
    ):
        if resolve is None:
            resolve = _default_resolve()
        if countries is None:
            from skyfence.regions import world

            countries = cast(RegionIndexLike, world().index())
        if index_factory is None:
            from skyfence.regions import RegionIndex

            index_factory = cast(Callable[[list[Any]], RegionIndexLike], RegionIndex)
        self.policy = policy
        self.countries: RegionIndexLike = countries
        self.coast_step_deg = float(coast_step_deg)
        self._resolve = resolve
        self.rule_ids: tuple[str, ...] = tuple(policy.rule_ids)
        country_regions = list(countries.regions)
        self._n_countries = len(country_regions)
        self._country_key = {str(r.id).upper(): i for i, r in enumerate(country_regions)}

        # -- regions of the rules: countries go to the country layer, the rest to an index
        self.regions: list[Any] = []  # unique rule regions, first-use order
        self.region_exprs: list[str] = []
        self._expr_slot: dict[str, int] = {}
        self._slot_key: list[int] = []
        custom: list[Any] = []

        def slot_of(expr: str) -> int:
            norm = normalize_region_expr(expr)
            if norm in self._expr_slot:
                return self._expr_slot[norm]
            region = resolve(expr)
            rid = str(region.id).upper()
            k = self._country_key.get(rid)
            if k is not None and (
                region is country_regions[k] or getattr(region, "kind", "country") == "country"
            ):
                key = k
            else:
                key = self._n_countries + len(custom)
                custom.append(region)
            self._expr_slot[norm] = len(self.regions)
            self.regions.append(region)
            self.region_exprs.append(expr)
            self._slot_key.append(key)
            return self._expr_slot[norm]

        rules = policy.rules
        n_rules = len(rules)
        self._rule_slot = np.array([slot_of(r.region) for r in rules], dtype=np.int32)
        trules = policy.terminal_rules
        self._trule_slot = [slot_of(r.region) if r.region else -1 for r in trules]
        self._custom = custom
        self._custom_index = index_factory(custom) if custom else None
        n_keys = self._n_countries + len(custom)
        slot_key = np.array(self._slot_key, dtype=np.int64)
        self._key_slot = np.full(n_keys + 1, -1, dtype=np.int32)
        self._key_slot[slot_key] = np.arange(len(slot_key), dtype=np.int32)

        # -- activation rules: rank by (area to 6 significant digits, severity, file order)
        areas = [float(self.regions[s].area_km2) for s in self._rule_slot]
        order = sorted(
            range(n_rules),
            key=lambda i: (float(f"{areas[i]:.6g}"), SEVERITY[rules[i].state], i),
        )
        self._rank = np.empty(n_rules + 1, dtype=np.int32)
        self._rank[order] = np.arange(n_rules, dtype=np.int32)
        self._rank[n_rules] = n_rules  # dummy rule: never in force
        self._rank_to_rule = np.append(np.array(order, dtype=np.int32), -1).astype(np.int32)
        self._rule_state = np.array([_STATE[r.state] for r in rules], dtype=np.int8)
        self._rule_from = np.array(
            [_t(r.effective_from, _T_MIN) for r in rules] + [_T_MAX], np.int64
        )
        self._rule_until = np.array(
            [_t(r.effective_until, _T_MAX) for r in rules] + [_T_MIN], np.int64
        )
        self.rule_area_km2 = np.array(areas, dtype=np.float64)
        # rules of each region key, padded with the dummy rule (n_rules)
        per_key: dict[int, list[int]] = {}
        for i, s in enumerate(self._rule_slot):
            per_key.setdefault(int(slot_key[s]), []).append(i)
        width = max((len(v) for v in per_key.values()), default=0)
        self._key_rules = np.full((n_keys + 1, width), n_rules, dtype=np.int32)
        for k, ids in per_key.items():
            self._key_rules[k, : len(ids)] = ids

        # -- terminal rules
        self._whitelist_rules = [j for j, r in enumerate(trules) if r.kind == "whitelist_only"]
        self._wl_tokens = []
        for j in self._whitelist_rules:
            r = trules[j]
            slot = self._trule_slot[j]
            self._wl_tokens.append(
                {
                    normalize_region_expr(r.region or ""),
                    r.id.casefold(),
                    normalize_region_expr(str(self.regions[slot].id)),
                }
            )
        self._has_maritime = any(r.kind == "maritime" for r in trules)
        self._coast_tree: Any = None
        #: use the cached-cell fast path in :meth:`decide` (same answers; see _decide_fast)
        self.fast_path = True
        self._cell_res = 7
        self._cell_cache: dict[int, Any] = {}
        self._cell_cache_max = 500_000
        self._country_tree: Any = None
        self._custom_tree: Any = None
        self._py = self._scalar_tables()
        every: list[ActivationRule | TerminalRule] = [*policy.rules, *policy.terminal_rules]
        self._rule_desc = [f"rule {r.id!r}" + (f" ({r.reason})" if r.reason else "") for r in every]
        self._rasters: dict[float, np.ndarray] = {}
        self._raster_step_deg = 0.5
        self._raster_min_rows = 20_000
        self._bound_cache: dict[int, _Bound] = {}

    # ------------------------------------------------------------------ helpers
    def _scalar_tables(self) -> dict[str, Any]:
        """The compiled tables as Python lists, for the single-row fast path."""
        n_act = len(self.policy.rules)
        key_rules: dict[int, list[int]] = {}
        for k in range(self._key_rules.shape[0]):
            ids = [int(r) for r in self._key_rules[k] if r < n_act]
            if ids:
                key_rules[k] = ids
        trules = []
        col = 0
        for j, r in enumerate(self.policy.terminal_rules):

            def bits(plans: tuple[str, ...] | None, none: int = 0) -> int:
                return none if plans is None else sum(_PLAN_BIT[p] for p in plans)

            limit = {
                "speed_limit": r.max_speed_kmh,
                "altitude": r.max_altitude_m,
                "roaming": r.max_trip_days,
                "maritime": r.offshore_km,
            }.get(r.kind)
            plans = r.offshore_plans if r.kind == "maritime" else r.plans
            trules.append(
                (
                    j,
                    r.kind,
                    self._trule_key(j) if r.kind != "roaming" and r.kind != "maritime" else -1,
                    _t(r.effective_from, _T_MIN),
                    _t(r.effective_until, _T_MAX),
                    bits(plans, -1),  # -1: every plan (None); 0: no plan
                    bits(r.exempt_plans),
                    r.honour_speed_exemption,
                    float(limit or 0.0),
                    col if r.kind == "whitelist_only" else -1,
                )
            )
            col += r.kind == "whitelist_only"
        return {
            "n_rules": n_act,
            "key_rules": key_rules,
            "from": self._rule_from.tolist(),
            "until": self._rule_until.tolist(),
            "rank": self._rank.tolist(),
            "rank_to_rule": self._rank_to_rule.tolist(),
            "state": self._rule_state.tolist(),
            "slot": self._rule_slot.tolist(),
            "trules": trules,
        }

    @property
    def n_rules(self) -> int:
        """Number of rules (activation then terminal), the range of ``BatchDecision.rule``."""
        return len(self.rule_ids)

    def _trule_key(self, j: int) -> int:
        slot = self._trule_slot[j]
        return -1 if slot < 0 else self._slot_key[slot]

    def bind(self, registry: TerminalRegistry | None) -> _Bound:
        """Per-registry arrays the kernel needs (cached for the last few registries)."""
        registry = registry if registry is not None else TerminalRegistry(())
        cached = self._bound_cache.get(id(registry))
        if cached is not None and cached.registry is registry:
            return cached
        terms = registry.terminals
        n = len(terms)
        plan_bits = np.zeros(n + 1, dtype=np.int32)
        country = np.full(n + 1, -1, dtype=np.int32)
        exempt = np.zeros(n + 1, dtype=bool)
        trip = np.full(n + 1, _T_MIN, dtype=np.int64)
        whitelisted = np.zeros((n + 1, len(self._whitelist_rules)), dtype=bool)
        for i, term in enumerate(terms):
            plan_bits[i] = _PLAN_BIT[term.plan]
            country[i] = self._country_key.get(term.country, -1)
            exempt[i] = term.speed_exempt
            trip[i] = _t(term.trip_started, _T_MIN)
            if term.whitelists and self._whitelist_rules:
                tokens = {normalize_region_expr(w) for w in term.whitelists}
                for c, wl in enumerate(self._wl_tokens):
                    whitelisted[i, c] = not tokens.isdisjoint(wl)
        bound = _Bound(plan_bits, country, exempt, trip, whitelisted, registry)
        if len(self._bound_cache) >= 4:
            self._bound_cache.pop(next(iter(self._bound_cache)))
        self._bound_cache[id(registry)] = bound
        return bound

    def _coast_distance_km(self, lat: np.ndarray, lon: np.ndarray, limit_km: float) -> np.ndarray:
        """Great-circle distance to the nearest country boundary vertex (inf beyond limit)."""
        import shapely
        from scipy.spatial import cKDTree

        out = np.full(lat.shape, np.inf)
        if lat.size == 0:
            return out
        if self._coast_tree is None:
            geoms = [r.geometry for r in self.countries.regions]
            if geoms:
                lines = shapely.segmentize(
                    shapely.boundary(np.array(geoms, dtype=object)), self.coast_step_deg
                )
                xy = shapely.get_coordinates(lines)
            else:
                xy = np.zeros((0, 2))
            self._coast_tree = cKDTree(_unit_xyz(xy[:, 1], xy[:, 0])) if len(xy) else False
        if self._coast_tree is False:
            return out
        chord_limit = 2 * math.sin(min(limit_km / MEAN_EARTH_RADIUS_KM, math.pi) / 2) * 1.000001
        chord, _ = self._coast_tree.query(_unit_xyz(lat, lon), distance_upper_bound=chord_limit)
        ok = np.isfinite(chord)
        out[ok] = 2 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.minimum(chord[ok] / 2, 1.0))
        return out

    def _beyond_km(self, lat: np.ndarray, lon: np.ndarray, km: float) -> np.ndarray:
        """Whether each point is more than ``km`` from land (the boundary vertex set).

        Large calls first classify points by a 0.5° raster whose cells are surely beyond
        (or surely within) ``km`` by the triangle inequality, and query the k-d tree only
        for the rest; the answer is the same as querying every point.
        """
        out = np.zeros(lat.shape, dtype=bool)
        if lat.size == 0:
            return out
        todo = np.arange(lat.size)
        if lat.size >= self._raster_min_rows:
            cls = self._coast_raster(km)
            step = self._raster_step_deg
            i = np.clip(((lat + 90.0) / step).astype(np.int64), 0, cls.shape[0] - 1)
            j = np.clip(((lon + 180.0) / step).astype(np.int64), 0, cls.shape[1] - 1)
            c = cls[i, j]
            out[c == 1] = True
            todo = np.flatnonzero(c == 0)
        out[todo] = self._coast_distance_km(lat[todo], lon[todo], km) > km
        return out

    def _coast_raster(self, km: float) -> np.ndarray:
        """Per 0.5° cell: 1 = every point beyond ``km`` of land, -1 = every point within, 0 = mixed."""
        if km in self._rasters:
            return self._rasters[km]
        step = self._raster_step_deg
        nlat, nlon = int(round(180 / step)), int(round(360 / step))
        clat = -90.0 + step * (np.arange(nlat) + 0.5)
        clon = -180.0 + step * (np.arange(nlon) + 0.5)
        # the farthest point of a cell from its centre is a corner (or an edge midpoint)
        h = step / 2
        offsets = [(-h, -h), (-h, h), (h, -h), (h, h), (-h, 0.0), (h, 0.0), (0.0, h)]
        half = np.max(
            [great_circle_km(clat, 0.0, np.clip(clat + a, -90, 90), b) for a, b in offsets], axis=0
        )
        half = half * 1.001 + 0.01
        glat, glon = np.meshgrid(clat, clon, indexing="ij")
        d = self._coast_distance_km(glat.ravel(), glon.ravel(), km + float(half.max()) + 1.0)
        d = d.reshape(nlat, nlon)
        cls = np.zeros((nlat, nlon), dtype=np.int8)
        cls[d > km + half[:, None]] = 1
        cls[d + half[:, None] < km] = -1
        self._rasters[km] = cls
        return cls

    # ------------------------------------------------------------------ kernel
    def _kernel(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        t: np.ndarray,
        speed: np.ndarray,
        alt: np.ndarray,
        term: np.ndarray,
        trip: np.ndarray,
        bound: _Bound,
        details: bool = False,
        terminal_checks: bool = True,
    ) -> dict[str, np.ndarray]:
        n = lat.shape[0]
        trules = self.policy.terminal_rules
        n_act = len(self.policy.rules)
        valid = (
            np.isfinite(lat)
            & np.isfinite(lon)
            & (np.abs(lat) <= 90.0)
            & (np.abs(lon) <= 180.0)
            & (t != _T_MIN)
            & ~(speed < 0)
            & (term >= -1)
            & (term < len(bound.registry))
        )
        qlat = np.where(valid, lat, 0.0)
        qlon = np.where(valid, lon, 0.0)
        country = (
            np.asarray(self.countries.lookup(qlat, qlon), dtype=np.int64)
            if self._n_countries
            else np.full(n, -1, np.int64)
        )
        country = np.where(valid, country, -1)
        if self._custom_index is not None:
            pp, pr = self._custom_index.memberships(qlat, qlon)
            pp = np.asarray(pp, dtype=np.int64)
            pk = np.asarray(pr, dtype=np.int64) + self._n_countries
        else:
            pp = pk = np.zeros(0, dtype=np.int64)

        # -- activation: the lowest rank among in-force rules whose region holds the point
        n_rules = n_act
        big = np.int32(n_rules)
        best = np.full(n, big, dtype=np.int32)
        ckey = np.where(country >= 0, country, len(self._key_rules) - 1)
        for s in range(self._key_rules.shape[1]):
            r = self._key_rules[ckey, s]
            live = (self._rule_from[r] <= t) & (t < self._rule_until[r])
            np.minimum(best, np.where(live, self._rank[r], big), out=best)
        if pp.size and self._key_rules.shape[1]:
            tp = t[pp]
            for s in range(self._key_rules.shape[1]):
                r = self._key_rules[pk, s]
                live = (self._rule_from[r] <= tp) & (tp < self._rule_until[r])
                np.minimum.at(best, pp, np.where(live, self._rank[r], big))
        win = self._rank_to_rule[best]  # -1: no rule
        state = np.where(win >= 0, self._rule_state[np.maximum(win, 0)], _NOT_LICENSED).astype(
            np.int8
        )
        rule = win.astype(np.int32)
        slot = np.where(win >= 0, self._rule_slot[np.maximum(win, 0)] if n_act else -1, -1).astype(
            np.int32
        )

        # -- terminal attributes (row len(registry) = unregistered)
        n_terms = len(bound.registry)
        tix = np.where((term >= 0) & (term < n_terms), term, n_terms)
        plan_bits = bound.plan_bits[tix]
        key_masks: dict[int, np.ndarray] = {}

        def in_key(key: int) -> np.ndarray:
            if key < 0:
                return valid
            if key not in key_masks:
                if key < self._n_countries:
                    key_masks[key] = country == key
                else:
                    m = np.zeros(n, dtype=bool)
                    m[pp[pk == key]] = True
                    key_masks[key] = m & valid
            return key_masks[key]

        def live_rule(r: TerminalRule) -> np.ndarray:
            return (_t(r.effective_from, _T_MIN) <= t) & (t < _t(r.effective_until, _T_MAX))

        def plan_in(plans: tuple[str, ...] | None, default: bool) -> np.ndarray | bool:
            if plans is None:
                return default
            mask = 0
            for p in plans:
                mask |= _PLAN_BIT[p]
            return (plan_bits & mask) != 0

        violated = {kind: np.full(n, -1, dtype=np.int32) for kind in _KINDS}

        def record(kind: str, j: int, mask: np.ndarray) -> None:
            v = violated[kind]
            v[mask & (v < 0)] = n_act + j

        at_sea = valid & (country < 0)
        far_by_km: dict[float, np.ndarray] = {}
        wl_col = 0
        for j, r in enumerate(trules):
            if not terminal_checks and r.kind != "maritime":
                continue
            if r.kind == "whitelist_only":
                ok = bound.whitelisted[tix, wl_col]
                wl_col += 1
                record(r.kind, j, live_rule(r) & in_key(self._trule_key(j)) & ~ok)
            elif r.kind == "speed_limit":
                applies = live_rule(r) & in_key(self._trule_key(j)) & plan_in(r.plans, True)
                applies &= ~plan_in(r.exempt_plans, False)
                if r.honour_speed_exemption:
                    applies &= ~bound.speed_exempt[tix]
                record(r.kind, j, applies & (speed > float(r.max_speed_kmh or 0.0)))
            elif r.kind == "altitude":
                applies = (
                    live_rule(r) & in_key(self._trule_key(j)) & ~plan_in(r.exempt_plans, False)
                )
                record(r.kind, j, applies & (alt > float(r.max_altitude_m or 0.0)))
            elif r.kind == "roaming":
                home = bound.country[tix]
                abroad = valid & (country >= 0) & (home >= 0) & (country != home)
                applies = (
                    live_rule(r) & abroad & plan_in(r.plans, True) & ~plan_in(r.exempt_plans, False)
                )
                start = np.where(trip != _T_MIN, trip, bound.trip[tix])
                known = start != _T_MIN
                day = np.where(known, (t - np.where(known, start, t)) // _NS_PER_DAY + 1, 1)
                record(r.kind, j, applies & (day > float(r.max_trip_days or 0.0)))
            elif r.kind == "maritime":
                live = live_rule(r)
                if r.open_sea_state is not None:
                    fill = live & at_sea & (rule < 0)
                    state[fill] = _STATE[r.open_sea_state]
                    rule[fill] = n_act + j
                if not terminal_checks:
                    continue
                km = float(r.offshore_km or 0.0)
                if km not in far_by_km:
                    sea_rows = np.flatnonzero(at_sea)
                    far = np.zeros(n, dtype=bool)
                    far[sea_rows] = self._beyond_km(lat[sea_rows], lon[sea_rows], km)
                    far_by_km[km] = far
                far = far_by_km[km]
                record(r.kind, j, live & far & ~plan_in(r.offshore_plans, False))

        # -- combine
        mask = np.zeros(n, dtype=np.uint16)
        mask |= np.where(valid, 0, 1 << _R["invalid_input"]).astype(np.uint16)
        region_bad = valid & (state != _ACTIVE)
        mask |= np.where(region_bad, 1 << _R["region_state"], 0).astype(np.uint16)
        for kind in _KINDS:
            mask |= np.where(violated[kind] >= 0, 1 << _R[_KIND_REASON[kind]], 0).astype(np.uint16)
        allowed = mask == 0
        # primary reason: lowest set bit
        low = mask & (~mask + np.uint16(1))
        reason = np.where(mask == 0, 0, np.log2(np.maximum(low, 1)).astype(np.uint8)).astype(
            np.uint8
        )
        deciding = np.where(allowed | region_bad | ~valid, rule, -1).astype(np.int32)
        for kind in _KINDS:
            code = _R[_KIND_REASON[kind]]
            pick = reason == code
            deciding[pick] = violated[kind][pick]
        deciding[~valid] = -1
        state = np.where(valid, state, -1).astype(np.int8)
        region_out = np.where(valid & (slot >= 0), slot, -1).astype(np.int32)
        out = {
            "allowed": allowed,
            "state": state,
            "region": region_out,
            "rule": deciding,
            "reason": reason,
            "reasons_mask": mask,
            "country": country.astype(np.int32),
        }
        if details:
            out["state_rule"] = rule
            for kind in _KINDS:
                out[kind] = violated[kind]
        return out

    # ------------------------------------------------------------------ public API
    def decide_batch(
        self,
        table: Mapping[str, Any],
        *,
        registry: TerminalRegistry | None = None,
        progress: Callable[[int, int], None] | None = None,
        chunk_rows: int = 1 << 20,
        trips_from_history: bool = False,
    ) -> BatchDecision:
        """Decide every row of ``table`` (a mapping of equal-length columns).

        Columns: ``terminal_id`` (text) or ``terminal_index`` (row in ``registry``, -1 =
        unregistered), ``lat``, ``lon`` (degrees), ``time`` (``datetime64`` or ISO text, or
        one value for all rows); optional ``speed_kmh``, ``altitude_m`` (NaN = unknown:
        the speed or altitude rule is not applied) and ``trip_started`` (``datetime64``,
        NaT = use the registry). Invalid rows are not raised: they come back with reason
        ``invalid_input``.

        With ``trips_from_history=True`` the rows are also read as the terminals' request
        history: for a row abroad with no ``trip_started``, the trip starts at the
        terminal's first request abroad after its last request at home (rows at sea neither
        start nor end a trip); if the table holds no request at home before it, the
        registry's ``trip_started`` is used when it is earlier. ``decide`` (one row, no
        history) gives the same answer as a table holding only that row.

        Examples
        --------
        >>> import numpy as np
        >>> from skyfence.policy import parse_policy
        >>> from skyfence.policy.testing import box_region, SimpleIndex
        >>> land = box_region("AA", 0, 0, 10, 10, kind="country")
        >>> cp = parse_policy("rules: [{id: a, region: AA, state: active}]").compile(
        ...     resolve={"AA": land}.__getitem__, countries=SimpleIndex([land]),
        ...     index_factory=SimpleIndex)
        >>> out = cp.decide_batch({"terminal_index": np.array([-1, -1]),
        ...     "lat": np.array([5.0, 20.0]), "lon": np.array([5.0, 5.0]),
        ...     "time": np.datetime64("2026-03-01")})
        >>> out.allowed.tolist(), out.state_names().tolist()
        ([True, False], ['active', 'not_licensed'])
        """
        unknown = [k for k in table if k not in _COLUMNS]
        if unknown:
            raise InputError(
                f"unknown column(s) {', '.join(map(str, unknown))}; valid columns are "
                f"{', '.join(_COLUMNS)}"
            )
        for name in ("lat", "lon", "time"):
            if name not in table:
                raise InputError(
                    f"decide_batch needs a {name!r} column; columns are {', '.join(_COLUMNS)}"
                )
        lat = np.atleast_1d(np.asarray(table["lat"], dtype=np.float64))
        n = lat.shape[0]
        lon = _column(table, "lon", n, np.float64)
        t = _times(table["time"], n)
        speed = _column(table, "speed_kmh", n, np.float64, np.nan)
        alt = _column(table, "altitude_m", n, np.float64, np.nan)
        trip = (
            _times(table["trip_started"], n)
            if "trip_started" in table
            else np.full(n, _T_MIN, np.int64)
        )
        bound = self.bind(registry)
        if "terminal_index" in table:
            term = _column(table, "terminal_index", n, np.int64)
        elif "terminal_id" in table:
            ids = np.atleast_1d(np.asarray(table["terminal_id"]))
            if ids.shape[0] not in (1, n):
                raise InputError(f"column 'terminal_id' has {ids.shape[0]} rows, expected {n}")
            term = np.broadcast_to(bound.registry.index_of(ids), (n,))
        else:
            term = np.full(n, -1, dtype=np.int64)
        if trips_from_history and n:
            trip = self._trips_from_history(lat, lon, t, term, trip, bound)
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, max(n, 1), chunk_rows):
            sl = slice(start, min(start + chunk_rows, n))
            out = self._kernel(
                lat[sl], lon[sl], t[sl], speed[sl], alt[sl], term[sl], trip[sl], bound
            )
            for k, v in out.items():
                parts.setdefault(k, []).append(v)
            if progress is not None:
                progress(sl.stop, n)
        cols = {k: np.concatenate(v) for k, v in parts.items()}
        return BatchDecision(rule_ids=self.rule_ids, **cols)

    def _trips_from_history(
        self,
        lat: np.ndarray,
        lon: np.ndarray,
        t: np.ndarray,
        term: np.ndarray,
        trip: np.ndarray,
        bound: _Bound,
    ) -> np.ndarray:
        """Fill ``trip`` (NaT rows abroad) from each terminal's request history in the table."""
        n = lat.shape[0]
        ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        ok &= (t != _T_MIN) & (term >= 0) & (term < len(bound.registry))
        country = np.full(n, -1, dtype=np.int64)
        country[ok] = np.asarray(self.countries.lookup(lat[ok], lon[ok]), dtype=np.int64)
        tix = np.where(ok, term, len(bound.registry))
        home = bound.country[tix].astype(np.int64)
        known = ok & (home >= 0) & (country >= 0)
        at_home = known & (country == home)
        abroad = known & (country != home)
        order = np.lexsort((t, tix))
        s_term, s_t = tix[order], t[order]
        s_home, s_abroad = at_home[order], abroad[order]
        new_terminal = np.r_[True, s_term[1:] != s_term[:-1]]
        run_start = new_terminal | s_home
        run = np.cumsum(run_start) - 1
        first_abroad = np.full(run[-1] + 1, _T_MAX, dtype=np.int64)
        np.minimum.at(first_abroad, run[s_abroad], s_t[s_abroad])
        start = first_abroad[run]
        # a run that opens the terminal's history may have begun before the table
        idx = np.arange(n)
        last_home = np.maximum.accumulate(np.where(s_home, idx, -1))
        terminal_first = np.maximum.accumulate(np.where(new_terminal, idx, 0))
        opens = last_home < terminal_first
        reg_trip = bound.trip[s_term]
        earlier = opens & (reg_trip != _T_MIN) & (reg_trip < start)
        start = np.where(earlier, reg_trip, start)
        inferred = np.full(n, _T_MIN, dtype=np.int64)
        inferred[order] = np.where(s_abroad, start, _T_MIN)
        return np.where(trip == _T_MIN, inferred, trip)

    def decide(
        self,
        terminal_id: str,
        lat: float,
        lon: float,
        time: Any = None,
        speed_kmh: float | None = None,
        altitude_m: float | None = None,
        *,
        registry: TerminalRegistry | None = None,
        trip_started: Any = None,
    ) -> Decision:
        """Decide one request; the same kernel as :meth:`decide_batch` on one row.

        ``time`` ``None`` means now. A terminal that is not in ``registry`` is decided as an
        unregistered terminal (no plan, no whitelist, no exemption).
        """
        t = parse_time(time)
        bound = self.bind(registry)
        row = bound.registry._rows.get(str(terminal_id), -1)
        trip = _t(parse_time(trip_started), _T_MIN) if trip_started is not None else _T_MIN
        term = bound.registry.terminals[row] if row >= 0 else None
        if self.fast_path:
            fast = self._decide_fast(lat, lon, t, speed_kmh, altitude_m, row, trip, bound)
            if fast is not None:
                return self._explain(
                    fast, str(terminal_id), term, lat, lon, t, speed_kmh, altitude_m
                )
        out = self._kernel(
            np.array([lat], dtype=np.float64),
            np.array([lon], dtype=np.float64),
            np.array([t.astype(np.int64)], dtype=np.int64),
            np.array([np.nan if speed_kmh is None else speed_kmh], dtype=np.float64),
            np.array([np.nan if altitude_m is None else altitude_m], dtype=np.float64),
            np.array([row], dtype=np.int64),
            np.array([trip], dtype=np.int64),
            bound,
            details=True,
        )
        return self._explain(out, str(terminal_id), term, lat, lon, t, speed_kmh, altitude_m)

    # ------------------------------------------------------------------ single-row fast path
    def _locate(self, lat: float, lon: float) -> tuple[int, list[int]] | None:
        """Country key (-1 at sea) and custom region keys of a point, from a cache of H3
        cells: a cell strictly inside its regions answers at once; a cell crossed by a
        boundary keeps each candidate region clipped to the cell's box and tests the point
        exactly (boundary points inside, the lowest country on a shared border, as
        ``RegionIndex``). ``None`` for cells crossing the antimeridian."""
        import shapely

        cell = _h3_cell(lat, lon, self._cell_res)
        entry = self._cell_cache.get(cell)
        if entry is None:
            if len(self._cell_cache) >= self._cell_cache_max:
                self._cell_cache.clear()
            entry = self._classify_cell(cell)
            self._cell_cache[cell] = entry
        if entry is False:
            return None
        countries, customs = entry
        country = -1
        for k, g in countries:
            if g is None or shapely.intersects_xy(g, lon, lat):
                country = k
                break
        keys = [k for k, g in customs if g is None or shapely.intersects_xy(g, lon, lat)]
        return country, keys

    def _classify_cell(self, cell: int) -> Any:
        import shapely
        from h3.api import basic_int as h3i

        ring = h3i.cell_to_boundary(cell)
        lons = [p[1] for p in ring]
        if max(lons) - min(lons) > 180.0:
            return False  # crosses the antimeridian: leave it to the kernel
        hexagon = shapely.Polygon([(p[1], p[0]) for p in ring])
        if self._country_tree is None:
            self._country_tree = shapely.STRtree([r.geometry for r in self.countries.regions])
            self._custom_tree = shapely.STRtree([r.geometry for r in self._custom])
            for r in (*self.countries.regions, *self._custom):
                shapely.prepare(r.geometry)
        x0, y0, x1, y1 = hexagon.bounds
        eps = 1e-7

        def entries(tree: Any, regions: Sequence[Any], offset: int) -> list[tuple[int, Any]]:
            out = []
            for j in sorted(tree.query(hexagon, predicate="intersects").tolist()):
                geom = regions[j].geometry
                if shapely.contains_properly(geom, hexagon):
                    out.append((offset + j, None))
                else:
                    piece = shapely.clip_by_rect(geom, x0 - eps, y0 - eps, x1 + eps, y1 + eps)
                    shapely.prepare(piece)
                    out.append((offset + j, piece))
            return out

        return (
            entries(self._country_tree, self.countries.regions, 0),
            entries(self._custom_tree, self._custom, self._n_countries),
        )

    def _decide_fast(
        self,
        lat: float,
        lon: float,
        t: np.datetime64,
        speed_kmh: float | None,
        altitude_m: float | None,
        row: int,
        trip: int,
        bound: _Bound,
    ) -> dict[str, list[Any]] | None:
        """The kernel's rules on one row, with Python scalars over the same compiled tables.

        Returns ``None`` (use the kernel) for invalid requests and cells crossing the
        antimeridian; ``decide`` ≡ ``decide_batch`` is tested on random requests.
        """
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or np.isnat(t):
            return None
        if speed_kmh is not None and not speed_kmh >= 0:
            return None
        where = self._locate(lat, lon)
        if where is None:
            return None
        country, customs = where
        at_sea = country < 0
        tn = int(t.astype(np.int64))
        speed = math.nan if speed_kmh is None else float(speed_kmh)
        alt = math.nan if altitude_m is None else float(altitude_m)
        tab = self._py
        best = tab["n_rules"]
        for key in (country, *customs):
            for r in tab["key_rules"].get(key, ()):
                if tab["from"][r] <= tn < tab["until"][r] and tab["rank"][r] < best:
                    best = tab["rank"][r]
        win = tab["rank_to_rule"][best]
        state = tab["state"][win] if win >= 0 else _NOT_LICENSED
        slot = tab["slot"][win] if win >= 0 else -1
        n_act = len(self.policy.rules)
        tix = row if row >= 0 else len(bound.registry)
        py = bound.py
        plan_bits = py["plan_bits"][tix]
        violated = dict.fromkeys(_KINDS, -1)
        srule = win
        for j, kind, key, t0, t1, plans, exempt, honour, limit, col in tab["trules"]:
            if not (t0 <= tn < t1):
                continue
            if kind == "maritime":
                if not at_sea:
                    continue
                sea_state = self.policy.terminal_rules[j].open_sea_state
                if sea_state is not None and srule < 0:
                    state, srule = _STATE[sea_state], n_act + j
                if violated[kind] < 0 and not plan_bits & plans:
                    far = self._beyond_km(np.array([lat]), np.array([lon]), limit)[0]
                    if far:
                        violated[kind] = n_act + j
                continue
            if violated[kind] >= 0:
                continue
            if key >= 0 and not (key == country or key in customs):
                continue
            if kind == "whitelist_only":
                bad = not py["whitelisted"][tix][col]
            elif kind == "speed_limit":
                applies = (plans == -1 or plan_bits & plans) and not plan_bits & exempt
                if honour and py["speed_exempt"][tix]:
                    applies = False
                bad = bool(applies) and speed > limit
            elif kind == "altitude":
                bad = not plan_bits & exempt and alt > limit
            elif kind == "roaming":
                home = py["country"][tix]
                abroad = country >= 0 and home >= 0 and country != home
                applies = abroad and (plans == -1 or plan_bits & plans) and not plan_bits & exempt
                start = trip if trip != _T_MIN else py["trip"][tix]
                day = (tn - start) // _NS_PER_DAY + 1 if start != _T_MIN else 1
                bad = bool(applies) and day > limit
            else:
                bad = False
            if bad:
                violated[kind] = n_act + j
        mask = 0 if state == _ACTIVE else 1 << _R["region_state"]
        for kind in _KINDS:
            if violated[kind] >= 0:
                mask |= 1 << _R[_KIND_REASON[kind]]
        reason = (mask & -mask).bit_length() - 1 if mask else 0
        if mask == 0 or reason == _R["region_state"]:
            deciding = srule
        else:
            deciding = next(violated[k] for k in _KINDS if _R[_KIND_REASON[k]] == reason)
        out: dict[str, list[Any]] = {
            "allowed": [mask == 0],
            "state": [state],
            "region": [slot],
            "rule": [deciding],
            "reason": [reason],
            "reasons_mask": [mask],
            "country": [country],
            "state_rule": [srule],
        }
        for kind in _KINDS:
            out[kind] = [violated[kind]]
        return out

    def states_at(self, lat: Any, lon: Any, time: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Activation state code and deciding rule index at points (no terminal rules).

        Same kernel as the decisions; used by ``policy diff`` to count changed cells.
        """
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        n = lat_a.shape[0]
        t = np.full(n, parse_time(time).astype(np.int64), dtype=np.int64)
        nan = np.full(n, np.nan)
        out = self._kernel(
            lat_a,
            np.broadcast_to(np.asarray(lon, dtype=np.float64), (n,)).copy(),
            t,
            nan,
            nan,
            np.full(n, -1, dtype=np.int64),
            np.full(n, _T_MIN, dtype=np.int64),
            self.bind(None),
            details=True,
            terminal_checks=False,
        )
        return out["state"], out["state_rule"]

    # ------------------------------------------------------------------ explanations
    def _explain(
        self,
        out: Mapping[str, Any],
        terminal_id: str,
        term: Any,
        lat: float,
        lon: float,
        t: np.datetime64,
        speed_kmh: float | None,
        altitude_m: float | None,
    ) -> Decision:
        pol = self.policy
        n_act = len(pol.rules)
        allowed = bool(out["allowed"][0])
        mask = int(out["reasons_mask"][0])
        state_code = int(out["state"][0])
        state = STATES[state_code] if state_code >= 0 else "invalid_input"
        slot = int(out["region"][0])
        region = self.region_exprs[slot] if slot >= 0 else None
        c = int(out["country"][0])
        country = str(self.countries.regions[c].id) if c >= 0 else None
        srule = int(out["state_rule"][0])
        rule = int(out["rule"][0])
        rule_id = self.rule_ids[rule] if rule >= 0 else None
        reasons: list[str] = []
        when = datetime64_to_iso(t) if not np.isnat(t) else "NaT"

        desc = self._rule_desc.__getitem__

        if mask & (1 << _R["invalid_input"]):
            reasons.append(
                "invalid_input: the request needs lat in [-90, 90], lon in [-180, 180], a time "
                f"and a speed >= 0; got lat={lat}, lon={lon}, time={when}, speed_kmh={speed_kmh}"
            )
        if mask & (1 << _R["region_state"]):
            if srule < 0:
                reasons.append(
                    "region_state: no rule covers this place, so it is not_licensed "
                    "(everything unlisted is not_licensed)"
                )
            elif srule < n_act:
                reasons.append(
                    f"region_state: {desc(srule)} puts region {pol.rules[srule].region!r} in "
                    f"state {state} at {when}; only active serves"
                )
            else:
                reasons.append(
                    f"region_state: {desc(srule)} gives the open sea state {state}; only active serves"
                )
        known = term is not None
        for kind in _KINDS:
            j = int(out[kind][0])
            if j < 0:
                continue
            r = pol.terminal_rules[j - n_act]
            if kind == "whitelist_only":
                who = (
                    f"terminal {terminal_id!r} is not whitelisted for it"
                    if known
                    else (f"terminal {terminal_id!r} is not registered")
                )
                reasons.append(
                    f"whitelist: {desc(j)}: region {r.region!r} serves only whitelisted terminals; {who}"
                )
            elif kind == "speed_limit":
                reasons.append(
                    f"speed: {desc(j)}: {speed_kmh:g} km/h is above the limit of {r.max_speed_kmh:g} km/h"
                )
            elif kind == "altitude":
                plans = ", ".join(r.exempt_plans) or "no plan"
                reasons.append(
                    f"altitude: {desc(j)}: {altitude_m:g} m is above {r.max_altitude_m:g} m, where only "
                    f"{plans} terminals are served"
                )
            elif kind == "roaming":
                home = term.country if term is not None else "?"
                reasons.append(
                    f"roaming: {desc(j)}: terminal registered in {home} is abroad in {country} for more than "
                    f"{r.max_trip_days:g} days of this trip"
                )
            elif kind == "maritime":
                plans = ", ".join(r.offshore_plans) or "no plan"
                plan = term.plan if term is not None else "unregistered"
                reasons.append(
                    f"maritime: {desc(j)}: more than {r.offshore_km:g} km from land only {plans} terminals "
                    f"are served; this one is {plan}"
                )
        if allowed:
            if srule >= 0:
                reasons.append(
                    f"ok: {desc(srule)} makes {region or 'the open sea'!s} active and no terminal rule objects"
                )
        return Decision(
            allowed=allowed,
            state=state,
            region=region,
            rule_id=rule_id,
            reasons=reasons,
            reason=REASONS[int(out["reason"][0])],
            terminal_id=terminal_id,
            country=country,
            time=when,
        )


def _t(value: Any, default: int) -> int:
    if value is None:
        return default
    v = np.asarray(value, dtype="datetime64[ns]")
    return default if np.isnat(v) else int(v.astype(np.int64))


def _h3_cell(lat: float, lon: float, res: int) -> int:
    from h3.api import basic_int as h3i

    return int(h3i.latlng_to_cell(lat, lon, res))


def _unit_xyz(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    c = np.cos(lat)
    return np.column_stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)])


def _column(
    table: Mapping[str, Any], name: str, n: int, dtype: Any, default: Any = None
) -> np.ndarray:
    if name not in table or table[name] is None:
        if default is None:
            raise InputError(f"decide_batch needs a {name!r} column")
        return np.full(n, default, dtype=dtype)
    try:
        col = np.atleast_1d(np.asarray(table[name], dtype=dtype))
    except (TypeError, ValueError):
        raise InputError(f"column {name!r} must be numbers") from None
    if col.shape[0] == 1 and n != 1:
        col = np.full(n, col[0], dtype=dtype)
    if col.shape != (n,):
        raise InputError(f"column {name!r} has shape {col.shape}, expected ({n},) like 'lat'")
    return col


def _times(value: Any, n: int) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind == "M":
        out = arr.astype("datetime64[ns]").astype(np.int64)
    elif arr.dtype.kind in "UO":
        out = np.array(
            [parse_time(v).astype(np.int64) if v is not None else _T_MIN for v in arr],
            dtype=np.int64,
        )
    else:
        raise InputError(
            "time columns must be datetime64 or ISO 8601 text such as 2026-03-01T12:00:00Z"
        )
    if out.shape[0] == 1 and n != 1:
        out = np.full(n, out[0], dtype=np.int64)
    if out.shape != (n,):
        raise InputError(f"time column has {out.shape[0]} rows, expected {n} like 'lat'")
    return out
