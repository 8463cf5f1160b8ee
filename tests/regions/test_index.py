"""RegionIndex: exact agreement with plain shapely, and the hard places of the map."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from skyfence.errors import InputError
from skyfence.regions import RegionIndex, parse_region

GEOD = Geod(ellps="WGS84")


def _reference_lookup(regions, lat, lon):
    """Plain shapely: STRtree of the country polygons, closed sets, lowest index wins."""
    tree = shapely.STRtree([r.geometry for r in regions])
    points = shapely.points(lon, lat)
    pt, reg = tree.query(points, predicate="intersects")
    out = np.full(len(lat), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, pt, reg)
    out[out == np.iinfo(np.int64).max] = -1
    return out


def _near_borders(regions, n, rng):
    """Points within ~1 km of boundary vertices: coasts, land borders, enclaves."""
    coords = shapely.get_coordinates([shapely.boundary(r.geometry) for r in regions])
    pick = coords[rng.integers(0, len(coords), n)]
    jitter = rng.normal(0.0, 0.01, size=(n, 2))
    lon = np.clip(pick[:, 0] + jitter[:, 0], -180.0, 180.0)
    lat = np.clip(pick[:, 1] + jitter[:, 1], -90.0, 90.0)
    return lat, lon


@pytest.mark.slow
def test_agrees_with_shapely_on_100k_points(idx):
    rng = np.random.default_rng(20260225)
    n = 50_000
    lat_g = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))  # uniform on the sphere
    lon_g = rng.uniform(-180.0, 180.0, n)
    lat_b, lon_b = _near_borders(idx.regions, n, rng)
    lat = np.concatenate([lat_g, lat_b])
    lon = np.concatenate([lon_g, lon_b])
    got = idx.lookup(lat, lon)
    want = _reference_lookup(idx.regions, lat, lon)
    assert got.dtype == np.int64 and got.shape == (100_000,)
    mismatch = np.flatnonzero(got != want)
    assert mismatch.size == 0, list(zip(lat[mismatch][:5], lon[mismatch][:5], strict=True))
    # the near-border half really is hard: many points in the raster's mixed cells
    assert (want[n:] >= 0).mean() > 0.2 and (want[n:] == -1).mean() > 0.2


def test_memberships_agree_with_shapely_for_overlapping_regions(w):
    regions = [
        w.region("UA"),
        w.region("crimea"),
        w.region("RU"),
        parse_region("buffer(crimea-coast, 50km)", w),
    ]
    index = RegionIndex(regions)
    rng = np.random.default_rng(7)
    lat = rng.uniform(43.0, 48.0, 5_000)
    lon = rng.uniform(31.0, 39.0, 5_000)
    pt, reg = index.memberships(lat, lon)
    tree = shapely.STRtree([r.geometry for r in regions])
    rp, rr = tree.query(shapely.points(lon, lat), predicate="intersects")
    want = np.unique(np.column_stack((rp, rr)), axis=0)
    got = np.column_stack((pt, reg))
    assert np.array_equal(got, want)
    assert np.all(np.diff(pt) >= 0)
    # Sevastopol: Ukraine, Crimea and near the coast
    p, r = index.memberships([44.60], [33.52])
    assert [regions[i].id for i in r] == ["UA", "crimea", "buffer(crimea-coast, 50km)"]


@pytest.mark.parametrize(
    ("place", "lat", "lon", "expected"),
    [
        ("Kinmen (Taiwan-administered, off Xiamen)", 24.44, 118.37, "TW"),
        ("Xiamen island", 24.50, 118.12, "CN"),
        ("Sevastopol", 44.60, 33.52, "UA"),
        ("Kerch", 45.357, 36.468, "UA"),
        ("Kaliningrad (exclave)", 54.71, 20.51, "RU"),
        ("Maseru (Lesotho, enclave in South Africa)", -29.31, 27.48, "LS"),
        ("Bloemfontein", -29.12, 26.21, "ZA"),
        ("Taveuni, west of 180°", -16.88, 179.975, "FJ"),
        ("Taveuni, east of 180°", -16.82, -179.93, "FJ"),
        ("Suva", -18.14, 178.44, "FJ"),
        ("Chukotka, west of 180°", 66.0, 175.0, "RU"),
        ("Chukotka, east of 180°", 66.0, -172.0, "RU"),
        ("Taipei", 25.033, 121.565, "TW"),
        ("Kyiv", 50.45, 30.52, "UA"),
        ("Paris", 48.857, 2.352, "FR"),
        ("Oslo", 59.91, 10.75, "NO"),
        ("Pristina", 42.66, 21.17, "XK"),
    ],
)
def test_hard_places(idx, place, lat, lon, expected):
    got = idx.lookup([lat], [lon])[0]
    assert got >= 0, place
    assert idx.regions[got].id == expected, place
    assert idx.regions[got].contains(lat, lon)[0]


def test_open_ocean_is_in_no_region(idx):
    assert idx.lookup([0.0, -40.0, 30.0], [-140.0, -20.0, -40.0]).tolist() == [-1, -1, -1]
    p, r = idx.memberships([0.0], [-140.0])
    assert p.size == 0 and r.size == 0


def test_bad_points_give_minus_one_not_errors(idx):
    got = idx.lookup([np.nan, 95.0, 50.45, 50.45], [30.52, 30.52, np.nan, 30.52 + 360.0])
    assert got[:3].tolist() == [-1, -1, -1]
    assert idx.regions[got[3]].id == "UA"  # longitudes are wrapped


def test_lookup_broadcasts_and_keeps_shape(idx):
    lat = np.full((3, 4), 50.45)
    got = idx.lookup(lat, 30.52)
    assert got.shape == (3, 4)
    assert {idx.regions[i].id for i in got.ravel()} == {"UA"}


def _offshore_point(country_geom, start_lon_lat, azimuth_deg, distance_km):
    """Walk from a point on land along an azimuth until ``distance_km`` off the coast."""
    lon, lat = start_lon_lat
    line_lon, line_lat = [], []
    for d in np.arange(0.0, 200.0, 0.05):
        lo, la, _ = GEOD.fwd(lon, lat, azimuth_deg, d * 1000.0)
        line_lon.append(lo)
        line_lat.append(la)
    inside = shapely.intersects_xy(country_geom, np.array(line_lon), np.array(line_lat))
    coast = int(np.flatnonzero(~inside)[0])
    lo, la, _ = GEOD.fwd(line_lon[coast], line_lat[coast], azimuth_deg, distance_km * 1000.0)
    return la, lo


def _distance_to_km(geom, lat, lon):
    """Distance from a point to a geometry in a local azimuthal-equidistant projection."""
    proj = f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m"
    t = Transformer.from_crs("EPSG:4326", proj, always_xy=True)
    local = shapely.transform(
        shapely.clip_by_rect(geom, lon - 3, lat - 3, lon + 3, lat + 3),
        lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])),
    )
    return shapely.distance(local, shapely.Point(0, 0)) / 1000.0


def test_ten_km_offshore_with_and_without_territorial_sea(w):
    # west of Portugal's Atlantic coast (no other country within 100 km)
    pt_geom = w.region("PT").geometry
    walk = 10.0
    for _ in range(4):  # the coast is not perpendicular to the walk: adjust to 10 km off
        lat, lon = _offshore_point(pt_geom, (-8.9, 39.5), 270.0, walk)
        walk *= 10.0 / _distance_to_km(pt_geom, lat, lon)
    assert 9.5 < _distance_to_km(pt_geom, lat, lon) < 10.5  # independent check
    land_only = RegionIndex([w.region("PT"), w.region("ES")])
    sea = RegionIndex([w.region("PT"), w.region("ES")], maritime_km=22.224)
    assert land_only.lookup([lat], [lon])[0] == -1
    assert sea.regions[sea.lookup([lat], [lon])[0]].id == "PT"
    # farther out than 12 nmi (+ the band's simplification tolerance) is nobody's
    lat30, lon30 = _offshore_point(pt_geom, (-8.9, 39.5), 270.0, 40.0)
    assert _distance_to_km(pt_geom, lat30, lon30) > 23.0
    assert sea.lookup([lat30], [lon30])[0] == -1
    # land stays land
    assert sea.regions[sea.lookup([38.72], [-9.14])[0]].id == "PT"


def test_overlapping_seas_go_to_the_nearest_land(w):
    index = RegionIndex([w.region("CN"), w.region("TW")], maritime_km=22.224)
    # between Kinmen and Xiamen: in both 12 nmi bands
    lat, lon = 24.44, 118.25
    _, members = index.memberships([lat], [lon])
    assert members.tolist() == [0, 1]
    d_cn = _distance_to_km(w.region("CN").geometry, lat, lon)
    d_tw = _distance_to_km(w.region("TW").geometry, lat, lon)
    expected = "CN" if d_cn < d_tw else "TW"
    assert index.regions[index.lookup([lat], [lon])[0]].id == expected


def test_lookup_cells_uses_cell_centres(idx):
    import h3

    cell = h3.latlng_to_cell(50.45, 30.52, 5)
    got = idx.lookup_cells([cell, h3.str_to_int(cell)])
    assert [idx.regions[i].id for i in got] == ["UA", "UA"]


def test_index_rejects_bad_arguments(w):
    with pytest.raises(InputError, match="divide 1"):
        RegionIndex([w.region("TW")], raster_deg=0.3)
    with pytest.raises(InputError, match="maritime_km"):
        RegionIndex([w.region("TW")], maritime_km=-1)
    with pytest.raises(InputError, match="at least one"):
        RegionIndex([])
