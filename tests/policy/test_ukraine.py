"""The shipped examples on the real country boundaries (Natural Earth via skyfence.regions)."""

from __future__ import annotations

import pytest

from skyfence.policy import Terminal, TerminalRegistry, load_example

MARCH = "2026-03-01T12:00:00Z"
KHARKIV = (49.99, 36.23)
SIMFEROPOL = (44.95, 34.10)
SEVASTOPOL = (44.60, 33.52)
WARSAW = (52.23, 21.01)
MOSCOW = (55.75, 37.62)
OPEN_BLACK_SEA = (43.30, 34.00)  # > 100 km from any coast

REGISTRY = TerminalRegistry(
    [
        Terminal("ua-fixed", "UA", "fixed", whitelists=("UA",)),
        Terminal("ua-gov", "UA", "government", whitelists=("UA",)),
        Terminal("ua-exempt", "UA", "roam", whitelists=("UA",), speed_exempt=True),
        Terminal("pl-fixed", "PL", "fixed"),
        Terminal("ua-away", "UA", "fixed", whitelists=("UA",), trip_started="2025-12-01T00:00:00Z"),
        Terminal("ship", "GR", "maritime"),
    ]
)


@pytest.fixture(scope="module")
def ukraine(real_world):
    return load_example("ukraine-2026").compile()


@pytest.mark.parametrize(
    "terminal,where,speed,allowed,reason,rule",
    [
        ("ua-fixed", KHARKIV, 60, True, "ok", "ua-active"),
        ("unregistered", KHARKIV, 60, False, "whitelist", "ua-whitelist"),
        ("pl-fixed", KHARKIV, 60, False, "whitelist", "ua-whitelist"),
        ("ua-fixed", KHARKIV, 120, False, "speed", "ua-speed-75"),
        ("ua-gov", KHARKIV, 120, True, "ok", "ua-active"),
        ("ua-exempt", KHARKIV, 120, True, "ok", "ua-active"),
        ("ua-exempt", KHARKIV, 170, False, "speed", "roam-speed-160"),
        ("ua-fixed", SIMFEROPOL, None, False, "region_state", "crimea-suspended"),
        ("ua-gov", SIMFEROPOL, None, False, "region_state", "crimea-suspended"),
        ("ua-fixed", SEVASTOPOL, None, False, "region_state", "crimea-suspended"),
        ("unregistered", SEVASTOPOL, None, False, "region_state", "crimea-suspended"),
        ("pl-fixed", WARSAW, None, True, "ok", "neighbours-active"),
        ("ua-fixed", WARSAW, None, True, "ok", "neighbours-active"),  # trip start unknown
        ("ua-away", WARSAW, None, False, "roaming", "roaming-60-days"),  # day 91 of the trip
        ("ua-gov", MOSCOW, None, False, "region_state", "ru-denied"),
        ("ship", OPEN_BLACK_SEA, None, True, "ok", "maritime"),
        ("ua-fixed", OPEN_BLACK_SEA, None, False, "maritime", "maritime"),
    ],
)
def test_ukraine_scenario(ukraine, terminal, where, speed, allowed, reason, rule):
    d = ukraine.decide(terminal, *where, MARCH, speed_kmh=speed, registry=REGISTRY)
    assert (d.allowed, d.reason, d.rule_id) == (allowed, reason, rule), d.reasons
    if not allowed:
        assert rule in " ".join(d.reasons)


def test_crimea_is_in_ukraine_in_this_worldview(ukraine):
    d = ukraine.decide("ua-fixed", *SIMFEROPOL, MARCH, registry=REGISTRY)
    assert d.country == "UA" and d.state == "suspended" and d.region == "crimea"


def test_before_the_whitelist_and_speed_rules(ukraine):
    d = ukraine.decide(
        "unregistered", *KHARKIV, "2026-01-15T00:00:00Z", speed_kmh=120, registry=REGISTRY
    )
    assert d.allowed and d.state == "active"
    d = ukraine.decide(
        "unregistered", *KHARKIV, "2026-01-29T00:00:00Z", speed_kmh=120, registry=REGISTRY
    )
    assert (d.allowed, d.reason) == (False, "speed")


@pytest.mark.parametrize(
    "when,state,allowed",
    [
        ("2026-03-01T00:00:00Z", "pending_licence", False),
        ("2026-07-01T00:00:00Z", "coming_soon", False),
        ("2026-10-01T00:00:00Z", "active", True),
    ],
)
def test_taiwan_staged_activation(real_world, when, state, allowed):
    cp = load_example("taiwan-activation").compile()
    reg = TerminalRegistry([Terminal("tw", "TW", "fixed")])
    d = cp.decide("tw", 25.03, 121.56, when, registry=reg)  # Taipei
    assert (d.state, d.allowed, d.region) == (state, allowed, "TW")
    assert cp.decide("tw", 39.90, 116.40, when, registry=reg).state == "denied"  # Beijing


def test_fast_path_equals_kernel_on_real_borders(ukraine):
    """Around Ukraine, Crimea, the Black Sea and the neighbours' borders."""
    import numpy as np

    from skyfence.policy import load_example

    slow = load_example("ukraine-2026").compile()
    slow.fast_path = False
    rng = np.random.default_rng(11)
    lat = rng.uniform(43.0, 53.0, 400)
    lon = rng.uniform(22.0, 41.0, 400)
    # and points within ~1 km of the Crimea boundary and the UA-RU border
    lat = np.r_[lat, 46.15 + rng.normal(0, 0.01, 50), 50.35 + rng.normal(0, 0.05, 50)]
    lon = np.r_[lon, 33.65 + rng.normal(0, 0.05, 50), 35.95 + rng.normal(0, 0.05, 50)]
    ids = [t.id for t in REGISTRY.terminals] + ["unregistered"]
    for i in range(len(lat)):
        kw = {"speed_kmh": float(rng.uniform(0, 200)), "registry": REGISTRY}
        term = ids[i % len(ids)]
        a = ukraine.decide(term, float(lat[i]), float(lon[i]), MARCH, **kw)
        b = slow.decide(term, float(lat[i]), float(lon[i]), MARCH, **kw)
        assert a == b, (lat[i], lon[i])


def test_policy_decide_shortcuts_use_one_engine(ukraine):
    p = load_example("ukraine-2026")
    d = p.decide("ua-fixed", *KHARKIV, MARCH, speed_kmh=60, registry=REGISTRY)
    assert d == ukraine.decide("ua-fixed", *KHARKIV, MARCH, speed_kmh=60, registry=REGISTRY)
    out = p.decide_batch(
        {"terminal_id": ["ua-fixed"], "lat": [KHARKIV[0]], "lon": [KHARKIV[1]], "time": MARCH},
        registry=REGISTRY,
    )
    assert out.allowed.tolist() == [True] and p.engine is p.engine
