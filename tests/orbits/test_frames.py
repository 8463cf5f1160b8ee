"""Frames: GMST against Vallado and skyfield, geodetic conversion against skyfield and by round trip."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import load, wgs84

from skyfence.orbits.frames import (
    EARTH_ROTATION_RAD_S,
    ecef_to_geodetic,
    geodetic_to_ecef,
    gmst_rad,
    teme_to_ecef,
)
from skyfence.timeutil import to_jd_pair

ONE_MM_KM = 1e-6
TS = load.timescale(builtin=True)


def test_gmst_vallado_example_3_5():
    # Vallado, Fundamentals of Astrodynamics and Applications, example 3-5:
    # 1992 August 20, 12:14 UT1 -> GMST = 152.578787886 deg
    jd = 2448854.5
    fr = (12 * 60 + 14) / 1440.0
    assert abs(np.degrees(gmst_rad(jd, fr)) - 152.578787886) < 1e-7


def test_gmst_matches_skyfield_at_many_instants():
    # skyfield evaluates GMST from the IAU 2000 Earth rotation angle; the IAU 1982 series SGP4
    # uses drifts from it linearly, by < 0.1" (3e-5 deg, 3.6 m at LEO radius) over 2015-2035.
    ut1 = 2451545.0 + np.linspace(5479.0, 12784.0, 57)
    t = TS.ut1_jd(ut1)
    ours = np.degrees(gmst_rad(np.floor(ut1) + 0.5, ut1 - np.floor(ut1) - 0.5))
    theirs = t.gmst * 15.0
    diff = (ours - theirs + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(diff)) < 3e-5


def test_gmst_is_in_range_and_rotates_at_sidereal_rate():
    times = np.array(["2026-02-22T00:00", "2026-02-22T00:01"], dtype="datetime64[ns]")
    g = gmst_rad(*to_jd_pair(times))
    assert np.all((g >= 0) & (g < 2 * np.pi))
    assert abs((g[1] - g[0]) / 60.0 - EARTH_ROTATION_RAD_S) < 1e-9


def test_geodetic_to_ecef_matches_skyfield():
    rng = np.random.default_rng(1)
    lat = rng.uniform(-90, 90, 300)
    lon = rng.uniform(-180, 180, 300)
    h_km = rng.uniform(-0.5, 2000.0, 300)
    ours = geodetic_to_ecef(lat, lon, h_km)
    theirs = wgs84.latlon(lat, lon, elevation_m=h_km * 1000.0).itrs_xyz.km.T
    assert np.max(np.abs(ours - theirs)) < ONE_MM_KM


def test_ecef_to_geodetic_matches_skyfield_subpoint():
    rng = np.random.default_rng(2)
    xyz = rng.normal(size=(200, 3))
    xyz *= (6378.137 + rng.uniform(200.0, 2000.0, 200))[:, None] / np.linalg.norm(xyz, axis=1)[
        :, None
    ]
    lat, lon, alt = ecef_to_geodetic(xyz)
    t = TS.utc(2026, 2, 22)
    # skyfield computes the geodetic position of an ITRS vector with its own iteration, which
    # stops at a few mm (our own accuracy, a micrometre, is shown by the round trip below)
    from skyfield.framelib import itrs
    from skyfield.positionlib import build_position

    gcrs = itrs.rotation_at(t).T @ xyz.T / 149597870.700
    pos = build_position(gcrs, t=t, center=399)
    geo = wgs84.geographic_position_of(pos)
    assert np.max(np.abs(lat - geo.latitude.degrees)) < 5e-8  # 5 mm on the ground
    dlon = (lon - geo.longitude.degrees + 180.0) % 360.0 - 180.0
    assert np.max(np.abs(dlon)) < 1e-9
    assert np.max(np.abs(alt - geo.elevation.km)) < 5e-6  # 5 mm


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(-90.0, 90.0),
    lon=st.floats(-179.999, 179.999),
    h=st.floats(-10.0, 40000.0),
)
def test_geodetic_round_trip_to_a_micrometre(lat, lon, h):
    xyz = geodetic_to_ecef(lat, lon, h)
    lat2, lon2, h2 = ecef_to_geodetic(xyz)
    assert abs(float(h2) - h) < 1e-9
    # a latitude error of 1e-11 deg is ~1 micrometre on the ground
    assert abs(float(lat2) - lat) < 1e-10
    if abs(lat) < 89.9999:
        assert abs((float(lon2) - lon + 180.0) % 360.0 - 180.0) < 1e-9


def test_geodetic_nan_rows_and_float32_dtype():
    pts = np.array([[np.nan, 0.0, 0.0], [7000.0, 0.0, 0.0]], dtype=np.float32)
    lat, lon, alt = ecef_to_geodetic(pts)
    assert lat.dtype == np.float32
    assert np.isnan(lat[0]) and np.isnan(alt[0])
    assert abs(float(alt[1]) - (7000.0 - 6378.137)) < 1e-3


def test_geodetic_keeps_leading_axes():
    pts = np.tile(np.array([0.0, 0.0, 7000.0]), (4, 5, 1))
    lat, lon, alt = ecef_to_geodetic(pts)
    assert lat.shape == (4, 5)
    assert np.allclose(lat, 90.0)
    assert np.allclose(alt, 7000.0 - 6356.752314245179)


def test_teme_to_ecef_velocity_is_the_time_derivative_of_position():
    # A TEME-fixed point seen from the rotating Earth: ECEF velocity = -omega x r; compare with
    # a central difference over +-0.5 s (error ~ omega^3 r / 24 s^2, far below 1e-9 km/s).
    times = np.array(
        ["2026-02-22T00:00:00", "2026-02-22T00:00:00.5", "2026-02-22T00:00:01"],
        dtype="datetime64[ns]",
    )
    g = gmst_rad(*to_jd_pair(times))
    r = np.tile(np.array([7000.0, 100.0, 50.0]), (1, 3, 1))
    v = np.zeros_like(r)
    r_ecef, v_ecef = teme_to_ecef(r, g, v)
    central = r_ecef[0, 2] - r_ecef[0, 0]  # km over 1 s, centred on times[1]
    assert np.allclose(v_ecef[0, 1], central, atol=1e-9)
    assert np.allclose(np.linalg.norm(r_ecef, axis=-1), np.linalg.norm(r, axis=-1))
    assert np.allclose(r_ecef[..., 2], 50.0)


def test_geodetic_many_points_across_workspace_blocks():
    # more points than one pass of the preallocated workspace (8,192), some NaN rows
    rng = np.random.default_rng(3)
    n = 20_000
    lat = rng.uniform(-90.0, 90.0, n)
    lon = rng.uniform(-180.0, 180.0, n)
    h = rng.uniform(-10.0, 40000.0, n)
    xyz = geodetic_to_ecef(lat, lon, h)
    xyz[[5, 8192, 16389]] = np.nan
    out = tuple(np.empty(n) for _ in range(3))
    lat2, lon2, h2 = ecef_to_geodetic(xyz, out=out)
    assert lat2 is out[0] and h2 is out[2]
    ok = np.isfinite(xyz[:, 0])
    assert np.isnan(lat2[~ok]).all() and np.isnan(h2[~ok]).all() and np.isnan(lon2[~ok]).all()
    assert np.max(np.abs(h2[ok] - h[ok])) < 1e-9
    assert np.max(np.abs(lat2[ok] - lat[ok])) < 1e-10
    polar = ok & (np.abs(lat) < 89.9999)
    assert np.max(np.abs((lon2[polar] - lon[polar] + 180.0) % 360.0 - 180.0)) < 1e-9


def test_geodetic_near_the_centre_of_the_earth():
    # within ~43 km of the centre the fast path's denominator is not positive: those points
    # are redone with every division guarded (no warnings, finite results)
    e2a = 6378.137 * 0.00669437999014
    pts = np.array(
        [
            [0.0, 0.0, 0.0],
            [e2a, 0.0, 0.0],  # degenerate: r - e²a = 0 on the equator
            [10.0, 5.0, -3.0],
            [0.0, 0.0, 20.0],
            [7000.0, 0.0, 0.0],
        ]
    )
    lat, lon, alt = ecef_to_geodetic(pts)
    assert np.all(np.isfinite(lat)) and np.all(np.isfinite(alt))
    assert lat[0] == 0.0 and abs(alt[0] + 6378.137) < 1e-9
    assert lat[1] == 0.0 and abs(alt[1] - (e2a - 6378.137)) < 1e-9
    assert lat[3] == 90.0 and abs(alt[3] - (20.0 - 6356.752314245179)) < 1e-9
    assert lat[2] < 0.0 and abs(lon[2] - np.degrees(np.arctan2(5.0, 10.0))) < 1e-12
    assert abs(alt[4] - (7000.0 - 6378.137)) < 1e-9
