"""decide_batch ≡ decide, and decide_batch ≡ a straightforward reference written here.

The reference does what docs/policy.md says, row by row, with plain shapely
point-in-polygon tests and a haversine distance to a densely sampled coastline; it shares
no code with the engine beyond the parsed policy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from skyfence.policy import (
    PLANS,
    REASONS,
    SEVERITY,
    STATES,
    Terminal,
    TerminalRegistry,
    parse_policy,
)

POLICY = """\
rules:
  - {id: aa, region: AA, state: active, effective_from: 2026-01-01T00:00:00Z}
  - {id: aa-old, region: AA, state: pending_licence, effective_until: 2026-01-01T00:00:00Z}
  - {id: bb, region: BB, state: active}
  - {id: mid, region: mid, state: suspended, effective_from: 2026-02-01T00:00:00Z, effective_until: 2026-04-01T00:00:00Z}
  - {id: small, region: small, state: active}
  - {id: t1, region: twin1, state: waitlist}
  - {id: t2, region: twin2, state: denied, effective_from: 2026-03-01T00:00:00Z}
  - {id: strip, region: strip, state: coming_soon}
terminal_rules:
  - {id: wl, kind: whitelist_only, region: AA, effective_from: 2026-02-01T00:00:00Z}
  - {id: wl-strip, kind: whitelist_only, region: strip}
  - {id: sp75, kind: speed_limit, region: AA, max_speed_kmh: 75, exempt_plans: [government]}
  - {id: sp-roam, kind: speed_limit, plans: [roam, fixed], max_speed_kmh: 160}
  - {id: sp-bb, kind: speed_limit, region: BB, max_speed_kmh: 100, honour_speed_exemption: false}
  - {id: alt, kind: altitude, max_altitude_m: 3000, exempt_plans: [aviation]}
  - {id: trip, kind: roaming, plans: [fixed, roam], max_trip_days: 30}
  - {id: sea, kind: maritime, offshore_km: 50, open_sea_state: active, offshore_plans: [maritime, aviation]}
"""

N_FULL = 100_000
N_LOOP = 2_000
T0 = np.datetime64("2025-11-01T00:00:00", "ns")
SPAN_S = 200 * 86400


def make_registry(rng, n=300):
    terms = []
    for i in range(n):
        plan = PLANS[rng.integers(len(PLANS))]
        country = ["AA", "BB", "ZZ"][rng.integers(3)]
        wl = tuple(w for w in ("AA", "strip", "wl", "BB") if rng.random() < 0.3)
        trip = (
            None if rng.random() < 0.5 else T0 + np.timedelta64(int(rng.integers(0, SPAN_S)), "s")
        )
        terms.append(
            Terminal(
                f"T{i}",
                country,
                plan,
                whitelists=wl,
                speed_exempt=bool(rng.random() < 0.2),
                trip_started=trip,
            )
        )
    return TerminalRegistry(terms)


def make_table(rng, n, n_terms):
    lat = rng.uniform(-3, 13, n)
    lon = rng.uniform(-3, 23, n)
    t = T0 + rng.integers(0, SPAN_S, n).astype("timedelta64[s]")
    speed = rng.uniform(0, 220, n)
    speed[rng.random(n) < 0.2] = np.nan
    alt = rng.uniform(0, 12000, n)
    alt[rng.random(n) < 0.5] = np.nan
    term = rng.integers(-1, n_terms, n)
    trip = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has = rng.random(n) < 0.1
    trip[has] = t[has] - rng.integers(0, 60 * 86400, has.sum()).astype("timedelta64[s]")
    return {
        "terminal_index": term,
        "lat": lat,
        "lon": lon,
        "time": t.astype("datetime64[ns]"),
        "speed_kmh": speed,
        "altitude_m": alt,
        "trip_started": trip,
    }


@pytest.fixture(scope="module")
def setup(boxes):
    rng = np.random.default_rng(20260222)
    policy = parse_policy(POLICY)
    cp = boxes.compile(policy)
    reg = make_registry(rng)
    table = make_table(rng, N_FULL, len(reg))
    out = cp.decide_batch(table, registry=reg)
    return policy, cp, reg, table, out


def test_single_equals_batch_on_a_sample(setup):
    policy, cp, reg, table, out = setup
    ids = [t.id for t in reg.terminals]
    rows = np.random.default_rng(1).choice(N_FULL, N_LOOP, replace=False)
    for i in rows:
        k = int(table["terminal_index"][i])
        speed = float(table["speed_kmh"][i])
        alt = float(table["altitude_m"][i])
        trip = table["trip_started"][i]
        d = cp.decide(
            ids[k] if k >= 0 else "unregistered-x",
            float(table["lat"][i]),
            float(table["lon"][i]),
            table["time"][i],
            None if math.isnan(speed) else speed,
            None if math.isnan(alt) else alt,
            registry=reg,
            trip_started=None if np.isnat(trip) else trip,
        )
        assert d.allowed == bool(out.allowed[i])
        assert d.state == STATES[out.state[i]]
        assert d.reason == REASONS[out.reason[i]]
        assert d.rule_id == (None if out.rule[i] < 0 else cp.rule_ids[out.rule[i]])
        assert d.region == (None if out.region[i] < 0 else cp.region_exprs[out.region[i]])
        assert len(d.reasons) == bin(int(out.reasons_mask[i])).count("1") or d.allowed
    # the fast path answered: many cells strictly inside their regions, and some boundary
    # cells whose regions were clipped to the cell and tested exactly
    entries = [v for v in cp.cells.cache.values() if v is not False]
    assert len(entries) > 0.9 * N_LOOP * 0.5
    assert sum(all(g is None for _, g in v[0] + v[1]) and len(v[0]) == 1 for v in entries) > 100
    assert sum(any(g is not None for _, g in v[0] + v[1]) for v in entries) > 5


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2 - lon1)
    a = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * 6371.0088 * np.arcsin(np.sqrt(a))


def reference(policy, boxes, reg, table):
    """Row-by-row decisions following docs/policy.md, with plain shapely."""
    n = len(table["lat"])
    lat, lon = table["lat"], table["lon"]
    t = table["time"]
    geoms = {name: r.geometry for name, r in boxes.by_name.items()}
    inside = {name: shapely.intersects_xy(g, lon, lat) for name, g in geoms.items()}
    country = np.where(
        inside["AA"], 0, np.where(inside["BB"], 1, -1)
    )  # AA first on the shared edge
    # distance to land: haversine to the land boundary sampled every 0.002 deg
    land = shapely.union(geoms["AA"], geoms["BB"])
    pts = shapely.get_coordinates(shapely.segmentize(land.boundary, 0.005))  # 0.55 km apart
    sea = country < 0
    dist = np.full(n, np.inf)
    near = np.flatnonzero(sea & (lat > -1) & (lat < 11) & (lon > -1) & (lon < 21))
    for chunk in np.array_split(near, max(1, len(near) // 256)):
        d = _haversine_km(lat[chunk, None], lon[chunk, None], pts[None, :, 1], pts[None, :, 0])
        dist[chunk] = d.min(axis=1)
    areas = {r.id: float(boxes.by_name[r.region].area_km2) for r in policy.rules}
    rule_pos = {r.id: i for i, r in enumerate(policy.rules)}
    n_act = len(policy.rules)
    all_ids = [r.id for r in policy.rules] + [r.id for r in policy.terminal_rules]
    terms = reg.terminals

    def live(rule, ti):
        return (rule.effective_from is None or rule.effective_from <= ti) and (
            rule.effective_until is None or ti < rule.effective_until
        )

    allowed = np.zeros(n, bool)
    state = np.zeros(n, np.int64)
    rule_out = np.full(n, -1)
    ambiguous = np.zeros(n, bool)
    for i in range(n):
        ti = t[i]
        cands = [r for r in policy.rules if inside[r.region][i] and live(r, ti)]
        if cands:
            win = min(
                cands,
                key=lambda r: (float(f"{areas[r.id]:.6g}"), SEVERITY[r.state], rule_pos[r.id]),
            )
            st_, deciding = win.state, win.id
        else:
            st_, deciding = "not_licensed", None
        k = int(table["terminal_index"][i])
        term = terms[k] if k >= 0 else None
        plan = term.plan if term else None
        reasons = []
        if sea[i]:
            for r in policy.terminal_rules:
                if r.kind == "maritime" and live(r, ti) and deciding is None:
                    st_, deciding = r.open_sea_state, r.id
        if st_ != "active":
            reasons.append(("region_state", deciding))
        speed, alt = table["speed_kmh"][i], table["altitude_m"][i]
        first_of = {}
        for r in policy.terminal_rules:
            if not live(r, ti):
                continue
            in_region = r.region is None or inside[r.region][i]
            if r.kind == "whitelist_only" and in_region:
                ok = term is not None and any(
                    w.lower() in (r.region.lower(), r.id.lower()) for w in term.whitelists
                )
                bad = not ok
            elif r.kind == "speed_limit" and in_region:
                applies = (r.plans is None or plan in r.plans) and plan not in r.exempt_plans
                if r.honour_speed_exemption and term is not None and term.speed_exempt:
                    applies = False
                bad = applies and not math.isnan(speed) and speed > r.max_speed_kmh
            elif r.kind == "altitude":
                bad = plan not in r.exempt_plans and not math.isnan(alt) and alt > r.max_altitude_m
            elif r.kind == "roaming":
                home = {"AA": 0, "BB": 1}.get(term.country, -1) if term else -1
                abroad = country[i] >= 0 and home >= 0 and country[i] != home
                applies = (
                    abroad and (r.plans is None or plan in r.plans) and plan not in r.exempt_plans
                )
                start = table["trip_started"][i]
                if np.isnat(start) and term is not None and term.trip_started is not None:
                    start = term.trip_started
                if np.isnat(start):
                    day = 1
                else:
                    day = (ti - start) // np.timedelta64(1, "D") + 1
                bad = applies and day > r.max_trip_days
            elif r.kind == "maritime":
                if sea[i] and abs(dist[i] - r.offshore_km) < 1.5:
                    ambiguous[i] = True
                bad = sea[i] and dist[i] > r.offshore_km and plan not in r.offshore_plans
            else:
                bad = False
            if bad:
                first_of.setdefault(r.kind, r.id)
        for kind, code in (
            ("whitelist_only", "whitelist"),
            ("speed_limit", "speed"),
            ("altitude", "altitude"),
            ("roaming", "roaming"),
            ("maritime", "maritime"),
        ):
            if kind in first_of:
                reasons.append((code, first_of[kind]))
        allowed[i] = not reasons
        state[i] = STATES.index(st_)
        who = deciding if not reasons else reasons[0][1]
        rule_out[i] = -1 if who is None else all_ids.index(who)
        _ = n_act
    return allowed, state, rule_out, ambiguous


@pytest.mark.slow
def test_batch_equals_reference_on_100k(setup, boxes):
    policy, cp, reg, table, out = setup
    allowed, state, rule, ambiguous = reference(policy, boxes, reg, table)
    keep = ~ambiguous
    assert ambiguous.mean() < 0.01
    assert np.array_equal(out.allowed[keep], allowed[keep])
    assert np.array_equal(out.state[keep], state[keep])
    assert np.array_equal(out.rule[keep], rule[keep])
    # the mix is not trivial: every outcome occurs
    reasons = set(out.reason_names().tolist())
    assert reasons == {
        "ok",
        "region_state",
        "whitelist",
        "speed",
        "altitude",
        "roaming",
        "maritime",
    }
    assert 0.05 < out.allowed.mean() < 0.95


def test_registry_index_of_matches_the_row_of_each_id():
    """``index_of`` gives each id's row (-1 when unregistered), whatever container or element
    type the ids come in, as ``row`` of the id's text does one at a time."""
    registry = TerminalRegistry([Terminal(t, "AA", "fixed") for t in ("T1", "7", "T3")])
    rng = np.random.default_rng(4)
    ids = [f"T{i}" for i in rng.integers(0, 5, 200)] + ["7", "", "t1"]
    expected = [registry.row(t) for t in ids]
    assert expected.count(-1) > 0 and len(set(expected)) == 3 + 1
    for form in (ids, np.array(ids), np.array(ids, dtype=object), tuple(ids)):
        got = registry.index_of(form)
        assert got.dtype == np.int64 and got.tolist() == expected
    # non-text ids are looked up by their text; a single id gives one row
    assert registry.index_of(np.array([7, 8])).tolist() == [1, -1]
    assert registry.index_of(np.array([np.str_("T3"), 7], dtype=object)).tolist() == [2, 1]
    assert registry.index_of("T3").tolist() == [2]
    assert registry.index_of([]).tolist() == []
