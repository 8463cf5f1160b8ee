"""WGS84 geodesy against skyfield (an independent implementation) and hand values."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import wgs84

from skyfence.ground import ecef_to_geodetic, geodetic_to_ecef_km, great_circle_km, up_vectors

ONE_MM_KM = 1e-6


def test_geodetic_to_ecef_matches_skyfield():
    rng = np.random.default_rng(3)
    lat = rng.uniform(-90, 90, 50)
    lon = rng.uniform(-180, 180, 50)
    alt_m = rng.uniform(-100, 9000, 50)
    ours = geodetic_to_ecef_km(lat, lon, alt_m / 1000.0)
    for i in range(50):
        ref = wgs84.latlon(lat[i], lon[i], elevation_m=alt_m[i]).itrs_xyz.km
        assert np.allclose(ours[i], ref, atol=ONE_MM_KM)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(-1, 2000),
)
def test_ecef_round_trip(lat, lon, alt_km):
    lat2, lon2, alt2 = ecef_to_geodetic(geodetic_to_ecef_km(lat, lon, alt_km))
    assert abs(alt2 - alt_km) < 1e-6
    assert abs(lat2 - lat) < 1e-9
    if abs(lat) < 89.9999:
        assert abs(((lon2 - lon + 180) % 360) - 180) < 1e-9


def test_up_vector_is_ellipsoid_normal():
    # the normal is the gradient of x²/a² + y²/a² + z²/b² at the surface point
    from skyfence.geodesy import WGS84_A_KM, WGS84_B_KM

    lat, lon = np.array([10.0, 45.0, -70.0]), np.array([20.0, -100.0, 170.0])
    p = geodetic_to_ecef_km(lat, lon)
    grad = p / np.array([WGS84_A_KM**2, WGS84_A_KM**2, WGS84_B_KM**2])
    grad /= np.linalg.norm(grad, axis=1, keepdims=True)
    assert np.allclose(up_vectors(lat, lon), grad, atol=1e-12)


def test_great_circle_quarter_and_zero():
    from skyfence.ground import MEAN_EARTH_RADIUS_KM

    assert np.isclose(great_circle_km(0, 0, 0, 90), MEAN_EARTH_RADIUS_KM * np.pi / 2)
    assert np.isclose(great_circle_km(90, 0, -90, 0), MEAN_EARTH_RADIUS_KM * np.pi)
    assert great_circle_km(12.3, 45.6, 12.3, 45.6) == 0.0
