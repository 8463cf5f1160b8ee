"""Compile a policy into arrays and indices: the :class:`CompiledPolicy` that decides.

Compiling resolves every rule's region once, sends countries to the country layer (the
worldview's non-overlapping :class:`~skyfence.regions.RegionIndex`) and every other region
to an index of custom regions, and ranks the activation rules by precedence. The decisions
themselves run in :mod:`skyfence.policy.kernel` (many rows) and :mod:`skyfence.policy.single`
(one row, from a cache of H3 cells); :mod:`skyfence.policy.explain` writes the reasons.

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.errors import InputError
from skyfence.policy import explain, kernel, single
from skyfence.policy.coast import CoastDistance
from skyfence.policy.decision import (
    COLUMNS,
    NOT_LICENSED,
    PLAN_BIT,
    STATE_CODE,
    T_MAX,
    T_MIN,
    BatchDecision,
    Decision,
    RegionIndexLike,
    plan_bits,
    to_ns,
)
from skyfence.policy.rules import SEVERITY, ActivationRule, TerminalRule, normalize_region_expr
from skyfence.policy.terminals import TerminalRegistry
from skyfence.timeutil import parse_time

if TYPE_CHECKING:
    from skyfence.policy.model import Policy

__all__ = ["CompiledPolicy", "Bound", "default_resolve", "Resolver", "IndexFactory"]

#: ``expr -> Region``: how a compiled policy turns region expressions into regions.
Resolver = Callable[[str], Any]
#: ``list[Region] -> index``: builds the index of the custom (non-country) regions.
IndexFactory = Callable[[list[Any]], RegionIndexLike]


@dataclass
class Bound:
    """Per-registry arrays the kernel reads (row ``n`` = an unregistered terminal)."""

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


class LazyIndex:
    """A region index made on its first look-up: a single decision from the H3-cell cache
    (:mod:`skyfence.policy.single`) needs none, so a process that makes one decision does
    not build (or read) the country index or the index of the custom regions."""

    def __init__(self, regions: Sequence[Any], make: Callable[[], RegionIndexLike]) -> None:
        self.regions = list(regions)
        self._make = make
        self._index: RegionIndexLike | None = None

    @property
    def index(self) -> RegionIndexLike:
        """The index (made now if it was not yet)."""
        if self._index is None:
            self._index = self._make()
        return self._index

    def lookup(self, lat: Any, lon: Any) -> np.ndarray:
        return self.index.lookup(lat, lon)

    def memberships(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.index.memberships(lat, lon)


def default_resolve() -> Resolver:
    """``expr -> Region`` over the built-in worldview: a
    :class:`skyfence.regions.RegionResolver` (which also resolves sealed policies)."""
    from skyfence.regions import RegionResolver, world

    return RegionResolver(world())


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
        resolve: Resolver | None = None,
        countries: RegionIndexLike | None = None,
        index_factory: IndexFactory | None = None,
        coast_step_deg: float = 0.02,
    ):
        if resolve is None:
            resolve = default_resolve()
        coast_cache = None
        if countries is None:
            from skyfence.regions import world

            w = world()
            countries = LazyIndex(w.countries, w.index)
            if w.cache_dir is not None and w.cache_key is not None:
                coast_cache = (w.cache_dir, w.cache_key)
        if index_factory is None:
            from skyfence.regions import RegionIndex

            index_factory = RegionIndex
        self.policy = policy
        self.countries: RegionIndexLike = countries
        self.coast_step_deg = float(coast_step_deg)
        self.rule_ids: tuple[str, ...] = tuple(policy.rule_ids)
        country_regions = list(countries.regions)
        self.n_countries = len(country_regions)
        self.country_key = {str(r.id).upper(): i for i, r in enumerate(country_regions)}

        # -- regions of the rules: countries go to the country layer, the rest to an index
        self.regions: list[Any] = []  # unique rule regions, first-use order
        self.region_exprs: list[str] = []
        expr_slot: dict[str, int] = {}
        self.slot_key: list[int] = []  # slot -> region key (country index, or n + custom)
        custom: list[Any] = []

        def slot_of(expr: str) -> int:
            norm = normalize_region_expr(expr)
            if norm in expr_slot:
                return expr_slot[norm]
            region = resolve(expr)
            rid = str(region.id).upper()
            k = self.country_key.get(rid)
            if k is not None and (
                region is country_regions[k] or getattr(region, "kind", "country") == "country"
            ):
                key = k
            else:
                key = self.n_countries + len(custom)
                custom.append(region)
            expr_slot[norm] = len(self.regions)
            self.regions.append(region)
            self.region_exprs.append(expr)
            self.slot_key.append(key)
            return expr_slot[norm]

        rules = policy.rules
        n_rules = len(rules)
        self.n_activation = n_rules
        self.rule_slot = np.array([slot_of(r.region) for r in rules], dtype=np.int32)
        trules = policy.terminal_rules
        self.trule_slot = [slot_of(r.region) if r.region else -1 for r in trules]
        self.custom = custom
        factory = index_factory
        self.custom_index = LazyIndex(custom, lambda: factory(custom)) if custom else None
        n_keys = self.n_countries + len(custom)
        slot_key = np.array(self.slot_key, dtype=np.int64)

        # -- activation rules: rank by (area to 6 significant digits, severity, file order)
        sealed = policy.sealed
        areas = [
            _area(self.regions[s], None if sealed is None else sealed.area_of(r.region))
            for s, r in zip(self.rule_slot, rules, strict=True)
        ]
        order = sorted(
            range(n_rules),
            key=lambda i: (float(f"{areas[i]:.6g}"), SEVERITY[rules[i].state], i),
        )
        self.rank = np.empty(n_rules + 1, dtype=np.int32)
        self.rank[order] = np.arange(n_rules, dtype=np.int32)
        self.rank[n_rules] = n_rules  # dummy rule: never in force
        self.rank_to_rule = np.append(np.array(order, dtype=np.int32), -1).astype(np.int32)
        self.rule_state = np.array([STATE_CODE[r.state] for r in rules], dtype=np.int8)
        self.rule_from = np.array(
            [to_ns(r.effective_from, T_MIN) for r in rules] + [T_MAX], np.int64
        )
        self.rule_until = np.array(
            [to_ns(r.effective_until, T_MAX) for r in rules] + [T_MIN], np.int64
        )
        # by winning rule, with a last entry for "no rule" (so -1 indexes it)
        self.win_state = np.append(self.rule_state, np.int8(NOT_LICENSED)).astype(np.int8)
        self.win_slot = np.append(self.rule_slot, np.int32(-1)).astype(np.int32)
        self.rule_area_km2 = np.array(areas, dtype=np.float64)
        # rules of each region key, padded with the dummy rule (n_rules)
        per_key: dict[int, list[int]] = {}
        for i, s in enumerate(self.rule_slot):
            per_key.setdefault(int(slot_key[s]), []).append(i)
        width = max((len(v) for v in per_key.values()), default=0)
        self.key_rules = np.full((n_keys + 1, width), n_rules, dtype=np.int32)
        for k, ids in per_key.items():
            self.key_rules[k, : len(ids)] = ids

        # -- terminal rules
        self.whitelist_rules = [j for j, r in enumerate(trules) if r.kind == "whitelist_only"]
        self.wl_tokens: list[set[str]] = []
        for j in self.whitelist_rules:
            r = trules[j]
            slot = self.trule_slot[j]
            self.wl_tokens.append(
                {
                    normalize_region_expr(r.region or ""),
                    r.id.casefold(),
                    normalize_region_expr(str(self.regions[slot].id)),
                }
            )
        self.coast = CoastDistance(
            [r.geometry for r in country_regions], self.coast_step_deg, cache=coast_cache
        )
        #: use the cached-cell fast path in :meth:`decide` (same answers; see skyfence.policy.single)
        self.fast_path = True
        self.cells = single.CellCache(country_regions, custom)
        self.py = self._scalar_tables()
        every: list[ActivationRule | TerminalRule] = [*policy.rules, *policy.terminal_rules]
        self.rule_desc = [f"rule {r.id!r}" + (f" ({r.reason})" if r.reason else "") for r in every]
        self._bound_cache: dict[int, Bound] = {}

    # ------------------------------------------------------------------ helpers
    def _scalar_tables(self) -> dict[str, Any]:
        """The compiled tables as Python lists, for the single-row fast path."""
        n_act = self.n_activation
        key_rules: dict[int, list[int]] = {}
        for k in range(self.key_rules.shape[0]):
            ids = [int(r) for r in self.key_rules[k] if r < n_act]
            if ids:
                key_rules[k] = ids
        trules = []
        col = 0
        for j, r in enumerate(self.policy.terminal_rules):
            plans = r.offshore_plans if r.kind == "maritime" else r.plans
            trules.append(
                (
                    j,
                    r.kind,
                    self.trule_key(j) if r.kind != "roaming" and r.kind != "maritime" else -1,
                    to_ns(r.effective_from, T_MIN),
                    to_ns(r.effective_until, T_MAX),
                    plan_bits(plans, -1),  # -1: every plan (None); 0: no plan
                    plan_bits(r.exempt_plans),
                    r.honour_speed_exemption,
                    r.limit,
                    col if r.kind == "whitelist_only" else -1,
                )
            )
            col += r.kind == "whitelist_only"
        return {
            "n_rules": n_act,
            "key_rules": key_rules,
            "from": self.rule_from.tolist(),
            "until": self.rule_until.tolist(),
            "rank": self.rank.tolist(),
            "rank_to_rule": self.rank_to_rule.tolist(),
            "state": self.rule_state.tolist(),
            "slot": self.rule_slot.tolist(),
            "trules": trules,
        }

    @property
    def n_rules(self) -> int:
        """Number of rules (activation then terminal), the range of ``BatchDecision.rule``."""
        return len(self.rule_ids)

    def trule_key(self, j: int) -> int:
        """Region key of terminal rule ``j`` (-1: everywhere)."""
        slot = self.trule_slot[j]
        return -1 if slot < 0 else self.slot_key[slot]

    def bind(self, registry: TerminalRegistry | None) -> Bound:
        """Per-registry arrays the kernel needs (cached for the last few registries)."""
        registry = registry if registry is not None else TerminalRegistry(())
        cached = self._bound_cache.get(id(registry))
        if cached is not None and cached.registry is registry:
            return cached
        terms = registry.terminals
        n = len(terms)
        bits = np.zeros(n + 1, dtype=np.int32)
        country = np.full(n + 1, -1, dtype=np.int32)
        exempt = np.zeros(n + 1, dtype=bool)
        trip = np.full(n + 1, T_MIN, dtype=np.int64)
        whitelisted = np.zeros((n + 1, len(self.whitelist_rules)), dtype=bool)
        for i, term in enumerate(terms):
            bits[i] = PLAN_BIT[term.plan]
            country[i] = self.country_key.get(term.country, -1)
            exempt[i] = term.speed_exempt
            trip[i] = to_ns(term.trip_started, T_MIN)
            if term.whitelists and self.whitelist_rules:
                tokens = {normalize_region_expr(w) for w in term.whitelists}
                for c, wl in enumerate(self.wl_tokens):
                    whitelisted[i, c] = not tokens.isdisjoint(wl)
        bound = Bound(bits, country, exempt, trip, whitelisted, registry)
        if len(self._bound_cache) >= 4:
            self._bound_cache.pop(next(iter(self._bound_cache)))
        self._bound_cache[id(registry)] = bound
        return bound

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
        unknown = [k for k in table if k not in COLUMNS]
        if unknown:
            raise InputError(
                f"unknown column(s) {', '.join(map(str, unknown))}; valid columns are "
                f"{', '.join(COLUMNS)}"
            )
        for name in ("lat", "lon", "time"):
            if name not in table:
                raise InputError(
                    f"decide_batch needs a {name!r} column; columns are {', '.join(COLUMNS)}"
                )
        lat = kernel.column(table, "lat", None, np.float64)
        n = lat.shape[0]
        lon = kernel.column(table, "lon", n, np.float64)
        t = kernel.times(table["time"], n)
        speed = kernel.column(table, "speed_kmh", n, np.float64, np.nan)
        alt = kernel.column(table, "altitude_m", n, np.float64, np.nan)
        trip = (
            kernel.times(table["trip_started"], n)
            if "trip_started" in table
            else np.full(n, T_MIN, np.int64)
        )
        bound = self.bind(registry)
        if "terminal_index" in table:
            term = kernel.column(table, "terminal_index", n, np.int64)
        elif "terminal_id" in table:
            ids = np.atleast_1d(np.asarray(table["terminal_id"]))
            if ids.shape[0] not in (1, n):
                raise InputError(f"column 'terminal_id' has {ids.shape[0]} rows, expected {n}")
            term = np.broadcast_to(bound.registry.index_of(ids), (n,))
        else:
            term = np.full(n, -1, dtype=np.int64)
        if trips_from_history and n:
            trip = kernel.trips_from_history(self, lat, lon, t, term, trip, bound)
        parts: dict[str, list[np.ndarray]] = {}
        for start in range(0, max(n, 1), chunk_rows):
            sl = slice(start, min(start + chunk_rows, n))
            out = kernel.decide_rows(
                self, lat[sl], lon[sl], t[sl], speed[sl], alt[sl], term[sl], trip[sl], bound
            )
            for k, v in out.items():
                parts.setdefault(k, []).append(v)
            if progress is not None:
                progress(sl.stop, n)
        cols = {k: np.concatenate(v) for k, v in parts.items()}
        return BatchDecision(rule_ids=self.rule_ids, **cols)

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
        """Decide one request; the same rules as :meth:`decide_batch` on one row.

        ``time`` ``None`` means now. A terminal that is not in ``registry`` is decided as an
        unregistered terminal (no plan, no whitelist, no exemption).
        """
        t = parse_time(time)
        bound = self.bind(registry)
        row = bound.registry.row(str(terminal_id))
        trip = to_ns(parse_time(trip_started), T_MIN) if trip_started is not None else T_MIN
        term = bound.registry.terminals[row] if row >= 0 else None
        if self.fast_path:
            fast = single.decide_one(self, lat, lon, t, speed_kmh, altitude_m, row, trip, bound)
            if fast is not None:
                return explain.decision(
                    self, fast, str(terminal_id), term, lat, lon, t, speed_kmh, altitude_m
                )
        out = kernel.decide_rows(
            self,
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
        return explain.decision(
            self, out, str(terminal_id), term, lat, lon, t, speed_kmh, altitude_m
        )

    def states_at(self, lat: Any, lon: Any, time: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Activation state code and deciding rule index at points (no terminal rules).

        Same kernel as the decisions; used by ``policy diff`` to count changed cells.
        """
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        n = lat_a.shape[0]
        t = np.full(n, parse_time(time).astype(np.int64), dtype=np.int64)
        nan = np.full(n, np.nan)
        out = kernel.decide_rows(
            self,
            lat_a,
            np.broadcast_to(np.asarray(lon, dtype=np.float64), (n,)).copy(),
            t,
            nan,
            nan,
            np.full(n, -1, dtype=np.int64),
            np.full(n, T_MIN, dtype=np.int64),
            self.bind(None),
            details=True,
            terminal_checks=False,
        )
        return out["state"], out["state_rule"]


def _area(region: Any, sealed_km2: float | None) -> float:
    """A rule's region area for ranking: as sealed with the geometry, else measured now."""
    return float(region.area_km2) if sealed_km2 is None else sealed_km2
