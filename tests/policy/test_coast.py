"""Distance to land: the vertex grid used for single decisions equals the k-d tree."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from skyfence.policy.coast import CoastDistance


@pytest.fixture(scope="module")
def coast():
    rng = np.random.default_rng(8)
    land = [
        shapely.box(0, 0, 10, 10),
        shapely.box(170, 60, 180, 70),  # at the antimeridian, far north
        shapely.box(-180, 60, -175, 65),
        shapely.Point(30, 85).buffer(2.0),  # near the pole
        shapely.Point(-60, -70).buffer(3.0),
    ]
    land += [
        shapely.Point(x, y).buffer(0.3) for x, y in rng.uniform([-180, -80], [180, 80], (40, 2))
    ]
    return CoastDistance(land, step_deg=0.05)


@pytest.mark.parametrize("limit_km", [5.0, 22.2, 60.0, 500.0, 1999.0])
def test_grid_equals_tree(coast, limit_km):
    rng = np.random.default_rng(int(limit_km))
    xy = shapely.get_coordinates([shapely.boundary(g) for g in coast._geometries])
    near = xy[rng.integers(0, len(xy), 300)] + rng.normal(0, limit_km / 111.0, (300, 2))
    lat = np.r_[np.clip(near[:, 1], -90, 90), rng.uniform(-90, 90, 200), [89.99, -89.99, 0.0]]
    lon = np.r_[(near[:, 0] + 180) % 360 - 180, rng.uniform(-180, 180, 200), [0.0, 10.0, 179.999]]
    coast.grid_max_rows = 10**9
    grid = coast.distance_km(lat, lon, limit_km)
    coast.grid_max_rows = 0
    tree = coast.distance_km(lat, lon, limit_km)
    assert 50 < np.isfinite(grid).sum() < len(lat)
    np.testing.assert_allclose(grid, tree, rtol=1e-12)


def test_the_coast_is_cached_and_a_damaged_cache_rebuilt(tmp_path, coast):
    cache = (tmp_path, "k" * 64)
    first = CoastDistance(coast._geometries, step_deg=0.05, cache=cache)
    lat, lon = np.array([0.0, 5.0, 65.0, 12.0]), np.array([11.0, -0.2, 169.0, 5.0])
    want = first.distance_km(lat, lon, 300.0)
    (file,) = tmp_path.glob("coast-*.npz")
    again = CoastDistance([], step_deg=0.05, cache=cache)  # no geometry: all from the file
    np.testing.assert_array_equal(again.distance_km(lat, lon, 300.0), want)
    file.write_bytes(b"not a zip file")
    rebuilt = CoastDistance(coast._geometries, step_deg=0.05, cache=cache)
    np.testing.assert_array_equal(rebuilt.distance_km(lat, lon, 300.0), want)
    assert np.isfinite(want).all() and want[3] == pytest.approx(222.4, abs=0.1)  # 2° north of 10°N
