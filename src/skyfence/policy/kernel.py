"""The vectorised decision kernel: columns of requests in, columns of decisions out.

:func:`decide_rows` is the one implementation of the rules for many rows (``decide_batch``,
``states_at``, and ``decide`` when its fast path declines). Per row it finds the winning
activation rule (the lowest precedence rank among rules in force whose region holds the
point), then runs every terminal rule as a mask over the rows, and combines the failed
checks into the primary reason and the deciding rule. Nothing is raised per row: invalid
rows come back with reason ``invalid_input``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from skyfence.errors import InputError
from skyfence.policy.decision import (
    ACTIVE,
    KIND_REASON,
    KINDS,
    NS_PER_DAY,
    PLAN_BIT,
    REASON_CODE,
    STATE_CODE,
    T_MAX,
    T_MIN,
    to_ns,
)
from skyfence.policy.rules import TerminalRule
from skyfence.timeutil import parse_time

if TYPE_CHECKING:
    from skyfence.policy.compile import Bound, CompiledPolicy

__all__ = ["decide_rows", "trips_from_history", "column", "times"]


def decide_rows(
    cp: CompiledPolicy,
    lat: np.ndarray,
    lon: np.ndarray,
    t: np.ndarray,
    speed: np.ndarray,
    alt: np.ndarray,
    term: np.ndarray,
    trip: np.ndarray,
    bound: Bound,
    details: bool = False,
    terminal_checks: bool = True,
) -> dict[str, np.ndarray]:
    """Decide rows given as arrays (times and trip starts as int64 ns, NaT = ``T_MIN``).

    Returns the columns of a :class:`~skyfence.policy.BatchDecision`; with ``details`` also
    ``state_rule`` (the rule that set the state) and, per terminal rule kind, the first
    failing rule of that kind (-1: none).
    """
    n = lat.shape[0]
    trules = cp.policy.terminal_rules
    n_act = cp.n_activation
    valid = (
        np.isfinite(lat)
        & np.isfinite(lon)
        & (np.abs(lat) <= 90.0)
        & (np.abs(lon) <= 180.0)
        & (t != T_MIN)
        & ~(speed < 0)
        & (term >= -1)
        & (term < len(bound.registry))
    )
    qlat = np.where(valid, lat, 0.0)
    qlon = np.where(valid, lon, 0.0)
    country = (
        np.asarray(cp.countries.lookup(qlat, qlon), dtype=np.int64)
        if cp.n_countries
        else np.full(n, -1, np.int64)
    )
    country = np.where(valid, country, -1)
    if cp.custom_index is not None:
        pp, pr = cp.custom_index.memberships(qlat, qlon)
        pp = np.asarray(pp, dtype=np.int64)
        pk = np.asarray(pr, dtype=np.int64) + cp.n_countries
    else:
        pp = pk = np.zeros(0, dtype=np.int64)

    # -- activation: the lowest rank among in-force rules whose region holds the point
    big = np.int32(n_act)
    best = np.full(n, big, dtype=np.int32)
    key_rules = cp.key_rules
    ckey = np.where(country >= 0, country, len(key_rules) - 1)
    for s in range(key_rules.shape[1]):
        r = key_rules[ckey, s]
        live = (cp.rule_from[r] <= t) & (t < cp.rule_until[r])
        np.minimum(best, np.where(live, cp.rank[r], big), out=best)
    if pp.size and key_rules.shape[1]:
        tp = t[pp]
        for s in range(key_rules.shape[1]):
            r = key_rules[pk, s]
            live = (cp.rule_from[r] <= tp) & (tp < cp.rule_until[r])
            np.minimum.at(best, pp, np.where(live, cp.rank[r], big))
    win = cp.rank_to_rule[best]  # -1: no rule
    state = cp.win_state[win]  # entry -1 of these tables is "no rule" (also for no rules)
    rule = win.astype(np.int32)
    slot = cp.win_slot[win]

    # -- terminal attributes (row len(registry) = unregistered)
    n_terms = len(bound.registry)
    tix = np.where((term >= 0) & (term < n_terms), term, n_terms)
    plan_bits = bound.plan_bits[tix]
    key_masks: dict[int, np.ndarray] = {}

    def in_key(key: int) -> np.ndarray:
        if key < 0:
            return np.asarray(valid)
        if key not in key_masks:
            if key < cp.n_countries:
                key_masks[key] = country == key
            else:
                m = np.zeros(n, dtype=bool)
                m[pp[pk == key]] = True
                key_masks[key] = m & valid
        return key_masks[key]

    def live_rule(r: TerminalRule) -> np.ndarray:
        return np.asarray(
            (to_ns(r.effective_from, T_MIN) <= t) & (t < to_ns(r.effective_until, T_MAX))
        )

    def plan_in(plans: tuple[str, ...] | None, default: bool) -> np.ndarray | bool:
        if plans is None:
            return default
        mask = 0
        for p in plans:
            mask |= PLAN_BIT[p]
        return np.asarray((plan_bits & mask) != 0)

    violated = {kind: np.full(n, -1, dtype=np.int32) for kind in KINDS}

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
            record(r.kind, j, live_rule(r) & in_key(cp.trule_key(j)) & ~ok)
        elif r.kind == "speed_limit":
            applies = live_rule(r) & in_key(cp.trule_key(j)) & plan_in(r.plans, True)
            applies &= ~plan_in(r.exempt_plans, False)
            if r.honour_speed_exemption:
                applies &= ~bound.speed_exempt[tix]
            record(r.kind, j, applies & (speed > r.limit))
        elif r.kind == "altitude":
            applies = live_rule(r) & in_key(cp.trule_key(j)) & ~plan_in(r.exempt_plans, False)
            record(r.kind, j, applies & (alt > r.limit))
        elif r.kind == "roaming":
            home = bound.country[tix]
            abroad = valid & (country >= 0) & (home >= 0) & (country != home)
            applies = (
                live_rule(r) & abroad & plan_in(r.plans, True) & ~plan_in(r.exempt_plans, False)
            )
            start = np.where(trip != T_MIN, trip, bound.trip[tix])
            known = start != T_MIN
            day = np.where(known, (t - np.where(known, start, t)) // NS_PER_DAY + 1, 1)
            record(r.kind, j, applies & (day > r.limit))
        elif r.kind == "maritime":
            live = live_rule(r)
            if r.open_sea_state is not None:
                fill = live & at_sea & (rule < 0)
                state[fill] = STATE_CODE[r.open_sea_state]
                rule[fill] = n_act + j
            if not terminal_checks:
                continue
            km = r.limit
            if km not in far_by_km:
                sea_rows = np.flatnonzero(at_sea)
                far = np.zeros(n, dtype=bool)
                far[sea_rows] = cp.coast.beyond_km(lat[sea_rows], lon[sea_rows], km)
                far_by_km[km] = far
            far = far_by_km[km]
            record(r.kind, j, live & far & ~plan_in(r.offshore_plans, False))

    # -- combine
    mask = np.zeros(n, dtype=np.uint16)
    mask |= np.where(valid, 0, 1 << REASON_CODE["invalid_input"]).astype(np.uint16)
    region_bad = valid & (state != ACTIVE)
    mask |= np.where(region_bad, 1 << REASON_CODE["region_state"], 0).astype(np.uint16)
    for kind in KINDS:
        bit = 1 << REASON_CODE[KIND_REASON[kind]]
        mask |= np.where(violated[kind] >= 0, bit, 0).astype(np.uint16)
    allowed = mask == 0
    # primary reason: lowest set bit
    low = mask & (~mask + np.uint16(1))
    reason = np.where(mask == 0, 0, np.log2(np.maximum(low, 1)).astype(np.uint8)).astype(np.uint8)
    deciding = np.where(allowed | region_bad | ~valid, rule, -1).astype(np.int32)
    for kind in KINDS:
        code = REASON_CODE[KIND_REASON[kind]]
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
        for kind in KINDS:
            out[kind] = violated[kind]
    return out


def trips_from_history(
    cp: CompiledPolicy,
    lat: np.ndarray,
    lon: np.ndarray,
    t: np.ndarray,
    term: np.ndarray,
    trip: np.ndarray,
    bound: Bound,
) -> np.ndarray:
    """Fill ``trip`` (NaT rows abroad) from each terminal's request history in the table."""
    n = lat.shape[0]
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    ok &= (t != T_MIN) & (term >= 0) & (term < len(bound.registry))
    country = np.full(n, -1, dtype=np.int64)
    country[ok] = np.asarray(cp.countries.lookup(lat[ok], lon[ok]), dtype=np.int64)
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
    first_abroad = np.full(run[-1] + 1, T_MAX, dtype=np.int64)
    np.minimum.at(first_abroad, run[s_abroad], s_t[s_abroad])
    start = first_abroad[run]
    # a run that opens the terminal's history may have begun before the table
    idx = np.arange(n)
    last_home = np.maximum.accumulate(np.where(s_home, idx, -1))
    terminal_first = np.maximum.accumulate(np.where(new_terminal, idx, 0))
    opens = last_home < terminal_first
    reg_trip = bound.trip[s_term]
    earlier = opens & (reg_trip != T_MIN) & (reg_trip < start)
    start = np.where(earlier, reg_trip, start)
    inferred = np.full(n, T_MIN, dtype=np.int64)
    inferred[order] = np.where(s_abroad, start, T_MIN)
    return np.where(trip == T_MIN, inferred, trip)


def column(
    table: Mapping[str, Any], name: str, n: int | None, dtype: Any, default: Any = None
) -> np.ndarray:
    """Column ``name`` as a 1-D array of ``n`` rows (one value is repeated; ``n`` ``None``:
    as many rows as the column has); ``default`` fills a missing column."""
    if name not in table or table[name] is None:
        if default is None or n is None:
            raise InputError(f"decide_batch needs a {name!r} column")
        return np.full(n, default, dtype=dtype)
    try:
        col = np.atleast_1d(np.asarray(table[name], dtype=dtype))
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"column {name!r} must be numbers") from None
    if n is None:
        if col.ndim != 1:
            raise InputError(f"column {name!r} must be one-dimensional, got shape {col.shape}")
        return col
    if col.shape[0] == 1 and n != 1:
        col = np.full(n, col[0], dtype=dtype)
    if col.shape != (n,):
        raise InputError(f"column {name!r} has shape {col.shape}, expected ({n},) like 'lat'")
    return col


def times(value: Any, n: int) -> np.ndarray:
    """A time column as int64 ns (NaT/``None`` = ``T_MIN``), one value repeated to ``n``."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind == "M":
        out = arr.astype("datetime64[ns]").astype(np.int64)
    elif arr.dtype.kind in "UO":
        out = np.array(
            [parse_time(v).astype(np.int64) if v is not None else T_MIN for v in arr],
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
