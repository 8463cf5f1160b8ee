"""Geodesic buffers of every size, against areas computed by hand.

A point-like region buffered by d is a spherical cap of area 2πR²(1 − cos(d/R)) (the WGS84
ellipsoid differs from the mean sphere by under 0.5 %). A buffer that reaches every point of
the Earth is the globe: 510,065,622 km² on WGS84. Before, a buffer of 20,000 km around
Ukraine had a smaller area than one of 10,000 km.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from skyfence.errors import InputError
from skyfence.regions import MAX_BUFFER_KM, buffer_km, geodesic_area_km2
from skyfence.regions._buffer import covers_globe

R_KM = 6371.0088
GLOBE_KM2 = 510_065_621.724  # WGS84 ellipsoid surface (4π R_authalic²)


def cap_km2(d_km: float) -> float:
    return 2 * math.pi * R_KM**2 * (1 - math.cos(min(d_km / R_KM, math.pi)))


def dot(lon: float, lat: float) -> shapely.Polygon:
    return shapely.box(lon, lat, lon + 1e-4, lat + 1e-4)


def test_the_globe_has_the_ellipsoids_area():
    assert geodesic_area_km2(shapely.box(-180, -90, 180, 90)) == pytest.approx(GLOBE_KM2, rel=1e-9)
    # a cap around the pole drawn along a parallel (an edge 360° long)
    north = shapely.box(-180, 80, 180, 90)
    assert geodesic_area_km2(north) == pytest.approx(cap_km2(10 * 111.2), rel=0.01)


@pytest.mark.parametrize(
    "lon, lat, d_km",
    [
        (10.0, 0.0, 300.0),  # tiles
        (10.0, 0.0, 1_500.0),  # caps
        (10.0, 0.0, 5_000.0),
        (10.0, 0.0, 10_000.0),  # a hemisphere
        (10.0, 0.0, 15_000.0),  # holds both poles
        (10.0, 0.0, 19_500.0),
        (-179.99, 30.0, 3_000.0),  # across the antimeridian
        (20.0, 85.0, 800.0),  # around the north pole
        (20.0, -70.0, 3_000.0),  # around the south pole
        (170.0, -85.0, 15_000.0),
    ],
)
def test_a_point_buffer_is_a_cap(lon, lat, d_km):
    grown = buffer_km(dot(lon, lat), d_km)
    assert grown.is_valid
    tolerance = 0.01 if d_km < 1_000 else 0.005  # tiles draw 32-gons, caps 96-gons
    assert geodesic_area_km2(grown) == pytest.approx(cap_km2(d_km), rel=tolerance)


def test_buffers_grow_with_distance_up_to_the_globe(w):
    ua = w.region("UA").geometry
    distances = [100, 1_000, 2_000, 5_000, 10_000, 15_000, 19_000, 20_000]
    areas = [geodesic_area_km2(buffer_km(ua, d)) for d in distances]
    assert all(b > a for a, b in zip(areas, areas[1:], strict=False))
    assert areas[-1] == pytest.approx(GLOBE_KM2, rel=1e-9)  # 20,000 km from Ukraine: everywhere
    assert covers_globe(ua, 20_000) and not covers_globe(ua, 15_000)


def test_ukraine_buffer_area_matches_sampling(w):
    """An independent estimate: the share of uniform random points within 5,000 km of
    Ukraine (inside, or near a vertex of its densified boundary, on the mean sphere)."""
    ua = w.region("UA").geometry
    rng = np.random.default_rng(11)
    n = 40_000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    xy = shapely.get_coordinates(shapely.segmentize(shapely.boundary(ua), 0.05))

    def unit(la, lo):
        la, lo = np.radians(la), np.radians(lo)
        return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))

    best = (unit(lat, lon) @ unit(xy[:, 1], xy[:, 0]).T).max(axis=1)
    near = (R_KM * np.arccos(np.clip(best, -1, 1)) <= 5_000) | shapely.intersects_xy(ua, lon, lat)
    sampled = near.mean() * GLOBE_KM2
    assert geodesic_area_km2(buffer_km(ua, 5_000)) == pytest.approx(sampled, rel=0.03)


def test_buffer_distance_limits():
    with pytest.raises(InputError, match="more than 20,040 km"):
        buffer_km(dot(0, 0), 1e8)
    with pytest.raises(InputError, match="finite number of km >= 0"):
        buffer_km(dot(0, 0), -1.0)
    assert geodesic_area_km2(buffer_km(dot(0, 0), MAX_BUFFER_KM)) == pytest.approx(GLOBE_KM2)


def test_a_region_holding_a_pole_grows_by_tiles(w):
    """Antarctica holds the south pole (drawn down to -89.99999999999994): its 12 nmi band
    grows away from the pole, by tiles; only a buffer reaching a pole that the region does
    not hold needs circles there (building those for the whole coast took minutes)."""
    from skyfence.regions._buffer import _holds_pole, _reaches_pole

    aq = w.region("AQ").geometry
    assert _holds_pole(aq, -90.0) and not _holds_pole(aq, 90.0)
    assert not _reaches_pole(aq, 22.224)
    assert _reaches_pole(dot(0.0, 89.9), 20.0) and not _reaches_pole(dot(0.0, 80.0), 20.0)
