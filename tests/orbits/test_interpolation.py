"""Interpolated dense grids (``interpolate=True``) against plain SGP4 and skyfield.

Independent truths: plain SGP4 through the same engine (``interpolate=False``), which the
other tests tie to Vallado's reference output and to skyfield; skyfield's own SGP4 and ITRS
frame for a few real satellites; central differences of SGP4 positions for velocities.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest
from skyfield.api import EarthSatellite, load
from skyfield.framelib import itrs

from skyfence.errors import InputError
from skyfence.orbits import Constellation, ElementSet
from skyfence.orbits.frames import EARTH_ROTATION_RAD_S
from skyfence.orbits.interpolation import (
    DEFAULT_TOLERANCE_M,
    NODES,
    knot_step_s,
    lagrange_weights,
)
from skyfence.timeutil import time_grid

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"
VER_TLE = Path(str(importlib.resources.files("sgp4") / "SGP4-VER.TLE"))
TS = load.timescale(builtin=True)
DAY = time_grid("2026-02-22T12:00:00Z", 86_400, 15)  # 5,761 steps


def error_m(a, b) -> np.ndarray:
    """Per (satellite, time) distance in metres; NaN where both are NaN (SGP4 failed)."""
    return np.linalg.norm(a.positions_ecef_km - b.positions_ecef_km, axis=-1) * 1000.0


def both(c: Constellation, times: np.ndarray, **kwargs):
    return c.propagate(times, interpolate=True, **kwargs), c.propagate(times, **kwargs)


# ---------------------------------------------------------------- the real snapshot


@pytest.fixture(scope="module")
def sample(starlink_tle):
    """300 random satellites of the snapshot, the one that sets the knot step, and the one
    decaying fastest (SGP4 clamps its eccentricity during the day: propagated exactly)."""
    es = ElementSet.from_file(starlink_tle)
    steps = np.array([knot_step_s(es[[i]]) for i in range(len(es))])
    rng = np.random.default_rng(7)
    special = [np.argmin(steps), np.argmax(es.mean_motion_dot)]
    idx = np.unique(np.append(rng.choice(len(es), 300, replace=False), special))
    return es, es[idx]


def test_within_10_m_of_sgp4_over_a_day_on_the_real_snapshot(sample):
    full, sub = sample
    assert knot_step_s(sub) == knot_step_s(full)  # the sample flies the full set's knots
    fast, exact = both(Constellation(sub), DAY)
    err = error_m(fast, exact)
    assert np.array_equal(fast.error_codes, exact.error_codes)
    assert np.array_equal(np.isnan(err), exact.error_codes != 0)
    assert np.nanmax(err) < DEFAULT_TOLERANCE_M, np.nanmax(err)
    # not vacuous: the interpolant is a few metres off at worst, not exact
    assert 0.5 < np.nanmax(err) and np.nanmedian(err) > 0.01


def test_within_tolerance_of_skyfield_for_a_few_real_satellites(starlink_tle):
    lines = starlink_tle.read_text().splitlines()
    recs = [(lines[i + 1], lines[i + 2]) for i in range(0, 3 * 40, 3 * 8)]  # 5 satellites
    es = ElementSet.from_text("\n".join(a + "\n" + b for a, b in recs))
    every = np.arange(0, len(DAY), 97)  # 60 instants over the day, between knots
    fast = Constellation(es).propagate(DAY, interpolate=True)
    secs = (DAY[every] - DAY[0]).astype("int64") / 1e9
    t = TS.utc(2026, 2, 22, 12, 0, secs)
    for k, (l1, l2) in enumerate(recs):
        theirs = EarthSatellite(l1, l2, ts=TS).at(t).frame_xyz(itrs).km.T
        diff_m = np.linalg.norm(fast.positions_ecef_km[k, every] - theirs, axis=1) * 1000.0
        # as plain SGP4 against skyfield (test_propagation): |UT1-UTC| of Earth rotation
        # (skyfence takes UT1 = UTC) + 5 m of frame models, plus the interpolation tolerance
        allowed = np.abs(t.dut1) * EARTH_ROTATION_RAD_S * np.linalg.norm(theirs, axis=1) * 1e3
        assert np.all(diff_m <= allowed + 5.0 + DEFAULT_TOLERANCE_M), diff_m.max()


# ---------------------------------------------------------------- fixture twins (always run)


def test_within_10_m_of_sgp4_over_a_day_on_the_golden_file():
    c = Constellation(ElementSet.from_file(GOLDEN / "starlink-4.3le"))
    fast, exact = both(c, DAY)
    err = error_m(fast, exact)
    assert (exact.error_codes == 0).all() and np.nanmax(err) < DEFAULT_TOLERANCE_M
    assert np.nanmax(err) > 0.1  # a real interpolation, not SGP4 at every step


@pytest.mark.parametrize("tolerance_m", [1.0, 10.0, 100.0])
def test_every_vallado_orbit_stays_within_the_tolerance(tolerance_m):
    """Vallado's verification cases: LEO to GEO, e up to 0.9, deep-space resonances. Each
    over a day from its own epoch, at 60 s; cases SGP4 fails on keep SGP4's codes."""
    es = ElementSet.from_file(VER_TLE, verify_checksum=False)
    worst = []
    for i in range(len(es)):
        one = Constellation(es[[i]])
        times = time_grid(es.epochs[i], 86_400, 60)
        fast, exact = both(one, times, tolerance_m=tolerance_m)
        assert np.array_equal(fast.error_codes, exact.error_codes), es.norad_ids[i]
        err = error_m(fast, exact)
        if np.isfinite(err).any():
            worst.append(np.nanmax(err))
    assert len(worst) >= 25
    assert max(worst) < tolerance_m, max(worst)


def test_knot_step_grows_with_the_tolerance_and_shrinks_with_eccentricity():
    es = ElementSet.from_file(GOLDEN / "starlink-4.3le")
    steps = [knot_step_s(es, tol) for tol in (0.1, 1.0, 10.0, 100.0)]
    assert steps == sorted(steps) and steps[-1] / steps[0] == pytest.approx(1000**0.125)
    eccentric = ElementSet(**{**es[[0]].columns(), "eccentricity": [0.5]})
    assert knot_step_s(eccentric) < knot_step_s(es[[0]]) / 3


def test_lagrange_weights_reproduce_polynomials_to_degree_7():
    u = np.linspace(0.0, 1.0, 11)
    for degree in range(8):
        exact = u**degree
        knots = NODES**degree
        assert np.allclose(lagrange_weights(u) @ knots, exact, atol=1e-12)
        slope = degree * u ** max(degree - 1, 0) if degree else np.zeros_like(u)
        assert np.allclose(lagrange_weights(u, derivative=True) @ knots, slope, atol=1e-11)


def test_uneven_times_interpolate_too():
    c = Constellation(ElementSet.from_file(GOLDEN / "starlink-4.3le"))
    rng = np.random.default_rng(3)
    times = np.sort(DAY[0] + rng.integers(0, 86_400_000, 3000).astype("timedelta64[ms]"))
    fast, exact = both(c, times.astype("datetime64[ns]"))
    assert np.nanmax(error_m(fast, exact)) < DEFAULT_TOLERANCE_M


def test_velocities_are_the_rate_of_change_of_the_positions():
    """The interpolant's derivative against a central difference of SGP4 positions. Its
    error is about the position error over a fraction of the knot step: metres over ~40 s,
    a few cm/s (SGP4's own velocities differ from the same difference by ~1 cm/s, and up to
    2 m/s for fast-decaying objects)."""
    c = Constellation(ElementSet.from_file(GOLDEN / "starlink-4.3le"))
    times = time_grid("2026-02-22T12:00:00Z", 3600, 15)
    fast = c.propagate(times, interpolate=True, velocities=True)
    half = np.timedelta64(500, "ms")
    ahead, behind = c.propagate(times + half), c.propagate(times - half)
    rate = ahead.positions_ecef_km - behind.positions_ecef_km  # km per 1 s
    error_m_s = np.linalg.norm(fast.velocities_ecef_km_s - rate, axis=-1) * 1000.0
    assert error_m_s.max() < 0.1 and np.median(error_m_s) < 0.02


def test_blocks_workers_dtype_and_geodetic_agree_with_one_call(tmp_path):
    c = Constellation.from_preset("kuiper")
    times = time_grid("2026-02-22T00:00:00Z", 7200, 10)
    whole = c.propagate(times, interpolate=True, geodetic=True)
    parts = list(c.iter_propagate(times, interpolate=True, chunk=50))
    assert len(parts) > 3
    stacked = np.concatenate([p.positions_ecef_km for p in parts], axis=1)
    # Kept blocks never change, and neither the block size nor the workers move a position by
    # more than floating-point rounding (1 µm; vectorised polynomial evaluation may associate
    # sums differently for different block shapes on some numpy builds).
    np.testing.assert_allclose(stacked, whole.positions_ecef_km, rtol=0, atol=1e-9)
    two = c.propagate(times, interpolate=True, workers=2)
    np.testing.assert_allclose(two.positions_ecef_km, whole.positions_ecef_km, rtol=0, atol=1e-9)
    f32 = c.propagate(times, interpolate=True, dtype=np.float32)
    assert f32.positions_ecef_km.dtype == np.float32
    lazy = c.propagate(times, interpolate=True)
    np.testing.assert_allclose(whole.altitude_km, lazy.altitude_km, atol=1e-9)


def test_steps_as_coarse_as_the_knots_use_plain_sgp4():
    c = Constellation(ElementSet.from_file(GOLDEN / "starlink-4.3le"))
    times = time_grid("2026-02-22T12:00:00Z", 86_400, 600)  # 10 min: coarser than the knots
    fast, exact = both(c, times)
    assert np.array_equal(fast.positions_ecef_km, exact.positions_ecef_km)


def test_bad_arguments_are_refused_before_any_work():
    c = Constellation(ElementSet.from_file(GOLDEN / "starlink-4.3le"))
    with pytest.raises(InputError, match="increasing order"):
        c.propagate(DAY[::-1], interpolate=True)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="tolerance_m must be a positive number"):
            c.propagate(DAY[:10], interpolate=True, tolerance_m=bad)


def test_interpolation_module_doctests():
    import doctest

    import skyfence.orbits.interpolation as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
