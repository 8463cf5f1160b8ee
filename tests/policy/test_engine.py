"""Decision engine on hand-made box regions: precedence, time travel, terminal rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError
from skyfence.policy import REASONS, STATES, Terminal, TerminalRegistry, parse_policy

T = "2026-03-01T00:00:00Z"
KM_PER_DEG = 6371.0088 * math.pi / 180.0  # along a meridian / the equator


def rules_yaml(*rules: str, terminal: tuple[str, ...] = ()) -> str:
    text = "rules:\n" + "".join(f"  - {r}\n" for r in rules)
    if terminal:
        text += "terminal_rules:\n" + "".join(f"  - {r}\n" for r in terminal)
    return text


def state_at(cp, lat, lon, time=T):
    d = cp.decide("nobody", lat, lon, time)
    return d.state, d.rule_id if d.reason == "region_state" or d.allowed else None


# --------------------------------------------------------------------------- precedence
def test_most_specific_region_wins(boxes):
    p = parse_policy(
        rules_yaml(
            "{id: aa, region: AA, state: active}",
            "{id: mid, region: mid, state: suspended}",
            "{id: small, region: small, state: active}",
        )
    )
    cp = boxes.compile(p)
    # areas as documented: small < mid < AA
    assert cp.rule_area_km2[2] < cp.rule_area_km2[1] < cp.rule_area_km2[0]
    assert state_at(cp, 3.0, 3.0) == ("active", "small")  # smallest wins though less strict
    assert state_at(cp, 1.5, 1.5) == ("suspended", "mid")
    assert state_at(cp, 2.0, 8.0) == ("active", "aa")
    assert state_at(cp, 5.0, 15.0) == ("not_licensed", None)  # unlisted BB
    d = cp.decide("nobody", 5.0, 15.0, T)
    assert d.rule_id is None and d.region is None and "not_licensed" in d.reasons[0]


@pytest.mark.parametrize("order", [0, 1])
def test_equal_area_denied_wins_whatever_the_order(boxes, order):
    rules = ["{id: t1, region: twin1, state: active}", "{id: t2, region: twin2, state: denied}"]
    if order:
        rules.reverse()
    cp = boxes.compile(parse_policy(rules_yaml("{id: aa, region: AA, state: active}", *rules)))
    assert cp.rule_area_km2[1] == cp.rule_area_km2[2]
    assert state_at(cp, 7.0, 7.0) == ("denied", "t2")


def test_equal_area_suspended_beats_coming_soon_and_denied_beats_suspended(boxes):
    cp = boxes.compile(
        parse_policy(
            rules_yaml(
                "{id: t1, region: twin1, state: coming_soon}",
                "{id: t2, region: twin2, state: suspended}",
            )
        )
    )
    assert state_at(cp, 7.0, 7.0)[0] == "suspended"
    cp = boxes.compile(
        parse_policy(
            rules_yaml(
                "{id: t1, region: twin1, state: suspended}",
                "{id: t2, region: twin2, state: denied}",
            )
        )
    )
    assert state_at(cp, 7.0, 7.0)[0] == "denied"


def test_equal_area_same_state_first_rule_in_file_wins(boxes):
    cp = boxes.compile(
        parse_policy(
            rules_yaml(
                "{id: first, region: twin2, state: waitlist}",
                "{id: second, region: twin1, state: waitlist}",
            )
        )
    )
    d = cp.decide("x", 7.0, 7.0, T)
    assert (d.state, d.rule_id) == ("waitlist", "first")


def test_same_region_overlapping_windows(boxes):
    cp = boxes.compile(
        parse_policy(
            rules_yaml(
                "{id: on, region: AA, state: active}",
                "{id: pause, region: AA, state: suspended, effective_from: 2026-05-01T00:00:00Z, effective_until: 2026-05-10T00:00:00Z}",
            )
        )
    )
    assert state_at(cp, 5, 5, "2026-04-30T23:59:59Z")[0] == "active"
    assert state_at(cp, 5, 5, "2026-05-01T00:00:00Z") == ("suspended", "pause")
    assert state_at(cp, 5, 5, "2026-05-09T23:59:59Z")[0] == "suspended"
    assert state_at(cp, 5, 5, "2026-05-10T00:00:00Z")[0] == "active"  # until is exclusive


def test_every_state_but_active_denies(boxes):
    for state in STATES:
        cp = boxes.compile(parse_policy(rules_yaml(f"{{id: r, region: AA, state: {state}}}")))
        d = cp.decide("x", 5, 5, T)
        assert d.allowed == (state == "active")
        assert d.state == state
        if not d.allowed:
            assert d.reason == "region_state" and d.rule_id == "r"


# --------------------------------------------------------------------------- time travel
STAGED = rules_yaml(
    "{id: pending, region: AA, state: pending_licence, effective_until: 2026-06-01T00:00:00Z}",
    "{id: soon, region: AA, state: coming_soon, effective_from: 2026-06-01T00:00:00Z, effective_until: 2026-09-01T00:00:00Z}",
    "{id: live, region: AA, state: active, effective_from: 2026-09-01T00:00:00Z}",
)


@pytest.mark.parametrize(
    "when,state,ids",
    [
        ("2025-01-01T00:00:00Z", "pending_licence", ["pending"]),
        ("2026-05-31T23:59:59Z", "pending_licence", ["pending"]),
        ("2026-06-01T00:00:00Z", "coming_soon", ["soon"]),
        ("2026-08-31T23:59:59.999Z", "coming_soon", ["soon"]),
        ("2026-09-01T00:00:00Z", "active", ["live"]),
        ("2030-01-01T00:00:00Z", "active", ["live"]),
    ],
)
def test_time_travel_effective_windows(boxes, when, state, ids):
    p = parse_policy(STAGED)
    assert [r.id for r in p.rules_at(when)] == ids
    cp = boxes.compile(p)
    assert cp.decide("x", 5, 5, when).state == state
    out = cp.decide_batch({"lat": [5.0], "lon": [5.0], "time": [np.datetime64(when.rstrip("Z"))]})
    assert STATES[out.state[0]] == state


def test_batch_rows_at_different_times(boxes):
    cp = boxes.compile(parse_policy(STAGED))
    times = np.array(["2026-01-01", "2026-07-01", "2026-10-01"], dtype="datetime64[ns]")
    out = cp.decide_batch({"lat": np.full(3, 5.0), "lon": np.full(3, 5.0), "time": times})
    assert out.state_names().tolist() == ["pending_licence", "coming_soon", "active"]
    assert out.rule_names().tolist() == ["pending", "soon", "live"]


# --------------------------------------------------------------------------- terminal rules
TERMINAL_POLICY = rules_yaml(
    "{id: aa, region: AA, state: active}",
    "{id: bb, region: BB, state: active}",
    terminal=(
        "{id: wl, kind: whitelist_only, region: AA, effective_from: 2026-02-01T00:00:00Z}",
        "{id: sp75, kind: speed_limit, region: AA, max_speed_kmh: 75, exempt_plans: [government]}",
        "{id: strict, kind: speed_limit, region: BB, max_speed_kmh: 50, honour_speed_exemption: false}",
        "{id: roam160, kind: speed_limit, plans: [roam], max_speed_kmh: 160}",
        "{id: alt, kind: altitude, max_altitude_m: 3000, exempt_plans: [aviation]}",
        "{id: trip, kind: roaming, max_trip_days: 10, exempt_plans: [government]}",
        "{id: sea, kind: maritime, offshore_km: 20, open_sea_state: active, offshore_plans: [maritime, aviation]}",
    ),
)

REGISTRY = TerminalRegistry(
    [
        Terminal("fix", "AA", "fixed", whitelists=("AA",)),
        Terminal("gov", "AA", "government", whitelists=("aa",)),
        Terminal("exempt", "AA", "fixed", whitelists=("wl",), speed_exempt=True),
        Terminal("roam", "AA", "roam", whitelists=("AA",)),
        Terminal("air", "AA", "aviation", whitelists=("AA",)),
        Terminal("ship", "BB", "maritime"),
        Terminal("away", "AA", "fixed", trip_started="2026-02-20T00:00:00Z"),
    ]
)


@pytest.fixture(scope="module")
def tcp(boxes):
    return boxes.compile(parse_policy(TERMINAL_POLICY))


@pytest.mark.parametrize(
    "terminal,lat,lon,kw,allowed,reason,rule",
    [
        ("fix", 5, 5, {"speed_kmh": 60}, True, "ok", "aa"),
        ("nobody", 5, 5, {"speed_kmh": 60}, False, "whitelist", "wl"),
        ("ship", 5, 5, {}, False, "whitelist", "wl"),  # registered but not whitelisted
        ("fix", 5, 5, {"time": "2026-01-15T00:00:00Z"}, True, "ok", "aa"),  # before whitelist-only
        ("nobody", 5, 5, {"time": "2026-01-15T00:00:00Z"}, True, "ok", "aa"),
        ("fix", 5, 5, {"speed_kmh": 75}, True, "ok", "aa"),  # the limit itself is allowed
        ("fix", 5, 5, {"speed_kmh": 75.1}, False, "speed", "sp75"),
        (
            "gov",
            5,
            5,
            {"speed_kmh": 120},
            True,
            "ok",
            "aa",
        ),  # exempt plan; whitelist matched case-free
        (
            "exempt",
            5,
            5,
            {"speed_kmh": 120},
            True,
            "ok",
            "aa",
        ),  # explicit exemption, whitelisted by rule id
        ("exempt", 5, 15, {"speed_kmh": 60}, False, "speed", "strict"),  # rule ignores exemptions
        ("roam", 5, 5, {"speed_kmh": 70}, True, "ok", "aa"),
        ("roam", 5, 15, {"speed_kmh": 49}, True, "ok", "bb"),
        ("air", 5, 15, {"speed_kmh": 170}, False, "speed", "strict"),
        ("roam", -5, 5, {"speed_kmh": 170}, False, "speed", "roam160"),  # everywhere, even at sea
        ("fix", 5, 5, {"altitude_m": 3000}, True, "ok", "aa"),
        ("fix", 5, 5, {"altitude_m": 3500}, False, "altitude", "alt"),
        ("air", 5, 5, {"altitude_m": 10000}, True, "ok", "aa"),
        ("away", 5, 15, {"time": "2026-03-01T12:00:00Z"}, True, "ok", "bb"),  # trip day 10
        ("away", 5, 15, {"time": "2026-03-02T00:00:00Z"}, False, "roaming", "trip"),  # day 11
        (
            "away",
            5,
            15,
            {"time": "2026-03-02T00:00:00Z", "trip_started": "2026-03-01T00:00:00Z"},
            True,
            "ok",
            "bb",
        ),
        ("fix", 5, 15, {"time": "2027-01-01T00:00:00Z"}, True, "ok", "bb"),  # unknown trip start
        (
            "ship",
            5,
            5,
            {"time": "2026-01-01T00:00:00Z", "trip_started": "2025-01-01T00:00:00Z"},
            False,
            "roaming",
            "trip",
        ),
        ("gov", 5, 15, {"trip_started": "2025-01-01T00:00:00Z"}, True, "ok", "bb"),  # exempt plan
        # maritime: AA's south edge is the equator, so the distance is exactly |lat| * km/deg
        ("fix", -18 / KM_PER_DEG, 5, {}, True, "ok", "sea"),  # 18 km: within 20 km of land
        ("fix", -22 / KM_PER_DEG, 5, {}, False, "maritime", "sea"),
        ("ship", -22 / KM_PER_DEG, 5, {}, True, "ok", "sea"),
        ("nobody", -3, 5, {}, False, "maritime", "sea"),
        ("fix", 30, 5, {}, False, "maritime", "sea"),
    ],
)
def test_terminal_rules(tcp, terminal, lat, lon, kw, allowed, reason, rule):
    kw = dict(kw)
    time = kw.pop("time", T)
    d = tcp.decide(terminal, lat, lon, time, registry=REGISTRY, **kw)
    assert (d.allowed, d.reason, d.rule_id) == (allowed, reason, rule), d.reasons
    if not allowed:
        assert any(r.startswith(reason) and repr(rule) in r for r in d.reasons)


def test_open_sea_state_only_where_no_rule(boxes):
    cp = boxes.compile(parse_policy(TERMINAL_POLICY))
    d = cp.decide("ship", -5, 5, T, registry=REGISTRY)
    assert d.state == "active" and d.rule_id == "sea" and d.country is None
    p = parse_policy(rules_yaml("{id: aa, region: AA, state: active}"))
    d = boxes.compile(p).decide("ship", -5, 5, T, registry=REGISTRY)
    assert d.state == "not_licensed"


def test_all_failed_checks_are_reasons_in_priority_order(tcp):
    d = tcp.decide("nobody", 5, 5, T, speed_kmh=200, altitude_m=5000, registry=REGISTRY)
    assert d.reason == "whitelist" and d.rule_id == "wl"
    assert [r.split(":")[0] for r in d.reasons] == ["whitelist", "speed", "altitude"]
    out = tcp.decide_batch(
        {
            "terminal_id": ["nobody"],
            "lat": [5.0],
            "lon": [5.0],
            "time": T,
            "speed_kmh": [200.0],
            "altitude_m": [5000.0],
        },
        registry=REGISTRY,
    )
    bits = {REASONS[i] for i in range(len(REASONS)) if out.reasons_mask[0] & (1 << i)}
    assert bits == {"whitelist", "speed", "altitude"}


def test_invalid_rows_are_flagged_not_raised(tcp):
    table = {
        "terminal_index": np.array([0, 0, 0, 0, 0, 99, 0]),
        "lat": np.array([np.nan, 95.0, 5.0, 5.0, 5.0, 5.0, 5.0]),
        "lon": np.array([5.0, 5.0, 181.0, 5.0, 5.0, 5.0, 5.0]),
        "time": np.array(
            [
                "2026-03-01",
                "2026-03-01",
                "2026-03-01",
                "NaT",
                "2026-03-01",
                "2026-03-01",
                "2026-03-01",
            ],
            dtype="datetime64[ns]",
        ),
        "speed_kmh": np.array([1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0]),
    }
    out = tcp.decide_batch(table, registry=REGISTRY)
    assert out.reason_names().tolist() == ["invalid_input"] * 6 + ["ok"]
    assert out.allowed.tolist() == [False] * 6 + [True]
    assert (out.state[:6] == -1).all() and (out.rule[:6] == -1).all()


def test_batch_input_errors_raise_at_the_boundary(tcp):
    with pytest.raises(InputError, match="valid columns are"):
        tcp.decide_batch({"lat": [1.0], "lon": [1.0], "time": T, "speed": [3.0]})
    with pytest.raises(InputError, match="'lon' has shape"):
        tcp.decide_batch({"lat": [1.0, 2.0], "lon": [1.0, 2.0, 3.0], "time": T})
    with pytest.raises(InputError, match="needs a 'time' column"):
        tcp.decide_batch({"lat": [1.0], "lon": [1.0]})


def test_progress_is_reported(tcp):
    calls = []
    n = 10
    tcp.decide_batch(
        {"lat": np.full(n, 5.0), "lon": np.full(n, 5.0), "time": T},
        progress=lambda done, total: calls.append((done, total)),
        chunk_rows=4,
    )
    assert calls == [(4, 10), (8, 10), (10, 10)]


def test_coast_raster_gives_the_same_answer_as_the_tree(boxes):
    cp = boxes.compile(parse_policy(TERMINAL_POLICY))
    rng = np.random.default_rng(3)
    lat = rng.uniform(-4, 14, 30_000)
    lon = rng.uniform(-4, 24, 30_000)
    sea = ~(((lat >= 0) & (lat <= 10)) & ((lon >= 0) & (lon <= 20)))
    lat, lon = lat[sea], lon[sea]
    cp.coast.raster_min_rows = 10**9
    direct = cp.coast.beyond_km(lat, lon, 20.0)
    cp.coast.raster_min_rows = 1
    rastered = cp.coast.beyond_km(lat, lon, 20.0)
    assert np.array_equal(direct, rastered)
    assert 0.3 < direct.mean() < 0.99
    assert (cp.coast.raster(20.0) == 1).any() and (cp.coast.raster(20.0) == 0).any()


def test_fast_path_equals_kernel_near_boundaries(boxes):
    policy = parse_policy(
        TERMINAL_POLICY.replace(
            "terminal_rules:",
            "  - {id: small, region: small, state: suspended}\n  - {id: strip, region: strip, state: waitlist}\nterminal_rules:",
        )
    )
    fast = boxes.compile(policy)
    slow = boxes.compile(policy)
    slow.fast_path = False
    rng = np.random.default_rng(5)
    edges = [
        (5.0, 10.0),
        (2.0, 3.0),
        (4.0, 3.0),
        (3.0, 2.0),
        (0.0, 5.0),
        (10.0, 15.0),
        (5.0, 9.0),
        (5.0, 11.0),
    ]
    points = [(la, lo) for la, lo in edges]
    for la, lo in edges:
        for d in (1e-9, 1e-6, 1e-3, 0.05):
            points += [(la + d, lo), (la - d, lo), (la, lo + d), (la, lo - d)]
    points += [tuple(p) for p in rng.uniform([-1, -1], [11, 21], (300, 2))]
    for k, (la, lo) in enumerate(points):
        terminal = REGISTRY.terminals[k % len(REGISTRY)].id
        kw = {"speed_kmh": float(rng.uniform(0, 200)), "registry": REGISTRY}
        a = fast.decide(terminal, la, lo, T, **kw)
        b = slow.decide(terminal, la, lo, T, **kw)
        assert a == b, (la, lo)
    assert any(v is not False for v in fast.cells.cache.values())


_REGION_NAMES = ["AA", "BB", "small", "mid", "twin1", "twin2", "strip"]


@settings(max_examples=40, deadline=None)
@given(
    rules=st.lists(
        st.tuples(st.sampled_from(_REGION_NAMES), st.sampled_from(STATES)), min_size=1, max_size=7
    ),
    lat=st.floats(-1, 11),
    lon=st.floats(-1, 21),
)
def test_rule_order_never_changes_the_state(boxes, rules, lat, lon):
    """Precedence depends on area and state, not on where a rule is written."""
    text = rules_yaml(
        *(f"{{id: r{i}, region: {reg}, state: {s}}}" for i, (reg, s) in enumerate(rules))
    )
    rev = rules_yaml(
        *(
            f"{{id: r{i}, region: {reg}, state: {s}}}"
            for i, (reg, s) in reversed(list(enumerate(rules)))
        )
    )
    a = boxes.compile(parse_policy(text)).decide("x", lat, lon, T)
    b = boxes.compile(parse_policy(rev)).decide("x", lat, lon, T)
    assert a.state == b.state
    # only the two equal boxes may swap (equal area, equal state: first in file wins)
    assert a.region == b.region or {a.region, b.region} == {"twin1", "twin2"}


def test_trips_from_request_history(tcp):
    """Home AA, max 10 trip days: trips start at the first request abroad after home."""
    days = np.array([0, 1, 5, 12, 13, 14, 30, 3, 40], dtype="timedelta64[D]")
    t0 = np.datetime64("2026-03-01T00:00:00", "ns")
    # rows 0-6 terminal "fix" (home AA); rows 7-8 terminal "away" (registry trip 2026-02-20)
    where = ["AA", "BB", "BB", "BB", "AA", "BB", "BB", "BB", "BB"]
    lat = np.full(9, 5.0)
    lon = np.array([5.0 if w == "AA" else 15.0 for w in where])
    term = np.array([0] * 7 + [6] * 2)
    shuffle = np.random.default_rng(2).permutation(9)  # order of rows must not matter
    table = {
        "terminal_index": term[shuffle],
        "lat": lat[shuffle],
        "lon": lon[shuffle],
        "time": (t0 + days.astype("timedelta64[ns]"))[shuffle],
    }
    out = tcp.decide_batch(table, registry=REGISTRY, trips_from_history=True)
    reasons = np.empty(9, dtype=object)
    reasons[shuffle] = out.reason_names()
    # trip 1 starts day 1: day 5 is trip day 5, day 12 is trip day 12 > 10; home on day 13;
    # trip 2 starts day 14: day 30 is trip day 17 > 10. "away": registry trip 2026-02-20 is
    # earlier than its first row, so day 3 is trip day 12 > 10.
    allowed = np.empty(9, dtype=bool)
    allowed[shuffle] = out.allowed
    assert [r == "roaming" for r in reasons] == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        True,
        True,
    ]
    assert allowed.tolist() == [True, True, True, False, True, True, False, False, False]
    # without history the trips are unknown, so no roaming denial (registry start only for "away")
    plain = tcp.decide_batch(table, registry=REGISTRY)
    names = np.empty(9, dtype=object)
    names[shuffle] = plain.reason_names()
    assert [r == "roaming" for r in names] == [False] * 7 + [True, True]
