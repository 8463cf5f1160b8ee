"""The scheduling-delay model and the latency model's new parts, against independent truths:
scipy's log-normal, hand-computed geometry and percentiles, and the uncalibrated model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from skyfence.errors import InputError
from skyfence.geodesy import SPEED_OF_LIGHT_KM_S, great_circle_km
from skyfence.ground import GroundSites
from skyfence.links import LatencyModel, NetworkModel, SchedulingDelay
from skyfence.links.delay import mixture_quantiles


def lognormal(d: SchedulingDelay):
    return stats.lognorm(s=d.sigma, scale=d.median_ms)


def test_quantiles_and_cdf_match_scipy_lognormal():
    d = SchedulingDelay(12.0, 0.45)
    p = np.array([0.01, 0.2, 0.5, 0.8, 0.99])
    np.testing.assert_allclose(d.quantile_ms(p), lognormal(d).ppf(p), rtol=1e-12)
    x = np.array([0.0, 3.0, 12.0, 30.0])
    np.testing.assert_allclose(d.cdf(x), lognormal(d).cdf(x), atol=1e-14)
    assert float(d.cdf(-1.0)) == 0.0


def test_constant_and_zero_delay():
    assert SchedulingDelay().is_zero and SchedulingDelay().is_constant
    d = SchedulingDelay(7.0, 0.0)
    np.testing.assert_array_equal(d.quantile_ms([0.2, 0.8]), [7.0, 7.0])
    np.testing.assert_array_equal(d.cdf([6.9, 7.0]), [0.0, 1.0])


@pytest.mark.parametrize(
    "kwargs", [{"median_ms": -1.0}, {"median_ms": float("nan")}, {"sigma": -0.1}, {"sigma": 9.0}]
)
def test_bad_delay_parameters_are_refused(kwargs):
    with pytest.raises(InputError):
        SchedulingDelay(**kwargs)


def test_bad_quantile_levels_are_refused():
    with pytest.raises(InputError, match="within"):
        SchedulingDelay(5.0, 0.3).quantile_ms(1.0)
    with pytest.raises(InputError, match="within"):
        mixture_quantiles(np.zeros((1, 2)), SchedulingDelay(), [0.0])


def test_one_slot_is_base_plus_the_delay_quantile():
    d = SchedulingDelay(10.0, 0.5)
    q = mixture_quantiles(np.array([[20.0]]), d, [0.2, 0.5, 0.8])
    np.testing.assert_allclose(q[0], 20.0 + lognormal(d).ppf([0.2, 0.5, 0.8]), atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    base=st.lists(st.floats(5.0, 120.0), min_size=1, max_size=12),
    median=st.floats(0.5, 30.0),
    sigma=st.floats(0.05, 1.2),
    p=st.sampled_from([0.2, 0.5, 0.8]),
)
def test_mixture_quantile_solves_the_mixture_cdf(base, median, sigma, p):
    """At the returned x, the slots' delay CDFs (scipy) average to p."""
    d = SchedulingDelay(median, sigma)
    x = mixture_quantiles(np.array([base]), d, [p], tolerance_ms=1e-7)[0, 0]
    mass = np.mean(lognormal(d).cdf(x - np.asarray(base)))
    assert mass == pytest.approx(p, abs=1e-5)


def test_weights_nan_slots_and_empty_rows():
    d = SchedulingDelay(5.0, 0.3)
    base = np.array([[10.0, 50.0, np.nan], [np.nan, np.nan, np.nan]])
    w = np.array([[3.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    q = mixture_quantiles(base, d, [0.5], weights=w, tolerance_ms=1e-7)
    mass = 0.75 * lognormal(d).cdf(q[0, 0] - 10.0) + 0.25 * lognormal(d).cdf(q[0, 0] - 50.0)
    assert mass == pytest.approx(0.5, abs=1e-6)
    assert np.isnan(q[1, 0])


def test_constant_delay_gives_the_weighted_sample_quantile():
    base = np.array([[30.0, 10.0, 20.0, 40.0]])
    q = mixture_quantiles(base, SchedulingDelay(2.0, 0.0), [0.2, 0.5, 0.8])
    # the smallest value whose cumulative share reaches p: 10 (1/4), 20 (2/4), 40 (4/4)
    np.testing.assert_array_equal(q[0], [12.0, 22.0, 42.0])
    np.testing.assert_array_equal(
        q[0] - 2.0, np.quantile(base[0], [0.2, 0.5, 0.8], method="inverted_cdf")
    )


def test_rtt_percentiles_replace_the_slot_median_by_the_distribution():
    lat = LatencyModel(overhead_ms=3.0, scheduling=SchedulingDelay(9.0, 0.4))
    slot_rtt = np.array([[25.0 + 9.0]])  # a step's RTT carries the delay's median
    q = lat.rtt_percentiles(slot_rtt)
    np.testing.assert_allclose(
        q[0], 25.0 + stats.lognorm(s=0.4, scale=9.0).ppf([0.2, 0.5, 0.8]), atol=1e-5
    )
    assert lat.slot_delay_ms == 12.0


def test_latency_model_validation():
    with pytest.raises(InputError, match="laser_hop_ms"):
        LatencyModel(laser_hop_ms=-1.0)
    with pytest.raises(InputError, match="SchedulingDelay"):
        LatencyModel(scheduling=5.0)  # type: ignore[arg-type]


def test_hop_equivalent_length():
    lat = LatencyModel(laser_hop_ms=2.0)
    # a 2-ms round trip is 1 ms each way: c x 1 ms of vacuum
    assert lat.hop_equivalent_km == pytest.approx(SPEED_OF_LIGHT_KM_S / 1000.0)
    assert float(lat.space_rtt_ms(lat.hop_equivalent_km)) == pytest.approx(2.0)


def test_backbone_goes_through_the_gateways_nearest_hub():
    # PoPs A (London) and B (Frankfurt); a gateway near London; home = Frankfurt
    pop_lat, pop_lon = np.array([51.5, 50.1]), np.array([-0.1, 8.7])
    g_lat, g_lon = np.array([52.0]), np.array([-1.0])
    direct = LatencyModel().backhaul_km(g_lat, g_lon, pop_lat, pop_lon)
    via = LatencyModel(backbone=True).backhaul_km(g_lat, g_lon, pop_lat, pop_lon)
    g_to_a = great_circle_km(52.0, -1.0, 51.5, -0.1)
    a_to_b = great_circle_km(51.5, -0.1, 50.1, 8.7)
    assert direct[0, 1] == pytest.approx(great_circle_km(52.0, -1.0, 50.1, 8.7))
    assert via[0, 0] == pytest.approx(g_to_a)
    assert via[0, 1] == pytest.approx(g_to_a + a_to_b)
    assert via[0, 1] >= direct[0, 1]
    # a PoP that is not a hub is never the gateway's local PoP
    via_b = LatencyModel(backbone=True).backhaul_km(
        g_lat, g_lon, pop_lat, pop_lon, hubs=np.array([False, True])
    )
    assert via_b[0, 0] == pytest.approx(great_circle_km(52.0, -1.0, 50.1, 8.7) + a_to_b)


def _network(small_walker, latency):
    c, eph = small_walker
    gw = GroundSites.from_arrays([40.0, -20.0, 10.0], [0.0, 30.0, 100.0], kind="gateway")
    pops = GroundSites.from_arrays([41.0, -25.0], [2.0, 28.0], kind="pop")
    term = GroundSites.from_arrays([45.0, 0.0, -30.0, 20.0, 5.0], [60.0, 40.0, 10.0, 120.0, -20.0])
    return NetworkModel(c, gw, pops, latency=latency), eph, term


def test_laser_hop_delay_adds_to_each_laser_hop(small_walker):
    """Each terminal's RTT with a per-hop delay is at most the old RTT plus old hops x delay
    (routing may pick a path with fewer hops), and exactly that when the path is kept."""
    h = 3.0
    base, eph, term = _network(small_walker, LatencyModel())
    hopped, _, _ = _network(small_walker, LatencyModel(laser_hop_ms=h))
    for i in range(0, len(eph.times), 10):
        a, b = base.step(eph, i, term), hopped.step(eph, i, term)
        ok = a.status == 0
        assert np.array_equal(ok, b.status == 0)
        assert np.all(b.rtt_ms[ok] <= a.rtt_ms[ok] + a.isl_hops[ok] * h + 1e-9)
        same = (
            ok
            & (a.serving_sat == b.serving_sat)
            & (a.isl_hops == b.isl_hops)
            & (a.gateway == b.gateway)
        )
        np.testing.assert_allclose(b.rtt_ms[same], a.rtt_ms[same] + h * a.isl_hops[same], atol=1e-9)
        np.testing.assert_allclose(b.rtt_space_ms[same], a.rtt_space_ms[same], atol=1e-9)
        np.testing.assert_allclose(
            b.rtt_ms[ok], b.rtt_space_ms[ok] + b.rtt_fibre_ms[ok] + b.rtt_overhead_ms[ok], atol=1e-9
        )


def test_scheduling_median_is_in_every_slot_rtt(small_walker):
    d = SchedulingDelay(11.0, 0.5)
    base, eph, term = _network(small_walker, LatencyModel())
    sched, _, _ = _network(small_walker, LatencyModel(scheduling=d))
    a, b = base.step(eph, 3, term), sched.step(eph, 3, term)
    ok = a.status == 0
    assert ok.any()
    np.testing.assert_array_equal(a.serving_sat, b.serving_sat)
    np.testing.assert_allclose(b.rtt_ms[ok], a.rtt_ms[ok] + 11.0, atol=1e-12)
    np.testing.assert_allclose(b.rtt_overhead_ms[ok], 4.0 + 11.0)


@pytest.mark.parametrize(
    "name", ["skyfence.links.delay", "skyfence.links.latency", "skyfence.links.calibration"]
)
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
