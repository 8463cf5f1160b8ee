"""Boundaries and their worldview: codes, Natural Earth's -99 codes, Crimea and Taiwan."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapefile
import shapely

from skyfence.errors import NotFoundError, ParseError
from skyfence.regions import CRIMEA_CUT, builtin_path, load_worldview, world

SEVASTOPOL = (44.600, 33.520)  # lat, lon (city centre, south of the bay)
TAIPEI = (25.033, 121.565)


def _raw_features():
    """The built-in file read with pyshp's own GeoJSON conversion (independent of our reader)."""
    reader = shapefile.Reader(str(builtin_path()))
    out = {}
    for sr in reader.iterShapeRecords():
        rec = sr.record.as_dict()
        out[rec["NAME"]] = (rec, shapely.geometry.shape(sr.shape.__geo_interface__))
    return out


def test_builtin_data_is_the_german_point_of_view():
    raw = _raw_features()
    ua_rec, ua = raw["Ukraine"]
    tw_rec, tw = raw["Taiwan"]
    _, ru = raw["Russia"]
    _, cn = raw["China"]
    # Crimea (Sevastopol, Kerch) lies inside Ukraine's polygon, not Russia's
    for lat, lon in (SEVASTOPOL, (45.357, 36.468)):
        assert shapely.intersects_xy(ua, lon, lat)
        assert not shapely.intersects_xy(ru, lon, lat)
    # Taiwan is its own unit, not part of China
    assert shapely.intersects_xy(tw, TAIPEI[1], TAIPEI[0])
    assert not shapely.intersects_xy(cn, TAIPEI[1], TAIPEI[0])
    assert tw_rec["ISO_A2"] == "CN-TW" and tw_rec["ISO_A2_EH"] == "TW"


def test_worldview_string_names_source_and_point_of_view(w):
    assert w.worldview == "Natural Earth 1:10m admin-0, point of view DEU (v5.1.1)"
    assert w.region("UA").worldview == w.worldview
    assert world() is w  # cached per process


@pytest.mark.parametrize(
    ("key", "expected_id", "name"),
    [
        ("TW", "TW", "Taiwan"),
        ("twn", "TW", "Taiwan"),
        ("FR", "FR", "France"),  # ISO_A2 is -99 in Natural Earth, ISO_A2_EH is FR
        ("FRA", "FR", "France"),
        ("NO", "NO", "Norway"),
        ("NOR", "NO", "Norway"),
        ("XK", "XK", "Kosovo"),
        ("KOS", "XK", "Kosovo"),  # ADM0_A3 alias
        ("Ukraine", "UA", "Ukraine"),
        ("WSB", "WSB", "Akrotiri"),  # no ISO code at all: ADM0_A3 is the id
    ],
)
def test_region_by_code_and_name(w, key, expected_id, name):
    r = w.region(key)
    assert r.id == expected_id
    assert r.name == name
    assert r.kind == "country"


def test_features_sharing_a_code_are_merged(w):
    raw = _raw_features()
    fr = w.region("FR")
    # Clipperton I. (ISO_A2_EH = FR) is part of the FR region
    clip = raw["Clipperton I."][1].representative_point()
    assert fr.contains(clip.y, clip.x)[0]
    assert len(set(w.codes())) == len(w.codes())


def test_unknown_code_lists_close_matches(w):
    with pytest.raises(NotFoundError) as err:
        w.region("Ukrane")
    assert "Ukraine" in str(err.value)
    assert "crimea" in str(err.value)


def test_crimea_is_approximate_but_sane(w):
    crimea = w.region("crimea")
    # Crimea + Sevastopol ≈ 27,000 km²
    assert 25_500 < crimea.area_km2 < 28_000
    ua = w.region("UA").geometry
    assert shapely.covers(shapely.buffer(ua, 1e-9), crimea.geometry)
    assert crimea.geometry.within(shapely.buffer(CRIMEA_CUT, 1e-9))
    inside = {
        "Sevastopol": SEVASTOPOL,
        "Kerch": (45.357, 36.468),
        "Armiansk": (46.106, 33.69),
        "Simferopol": (44.952, 34.102),
    }
    outside = {
        "Skadovsk": (46.115, 32.911),
        "Henichesk": (46.171, 34.816),
        "Kherson": (46.636, 32.617),
    }
    lat = np.array([v[0] for v in (*inside.values(), *outside.values())])
    lon = np.array([v[1] for v in (*inside.values(), *outside.values())])
    got = crimea.contains(lat, lon)
    assert got.tolist() == [True] * len(inside) + [False] * len(outside)


def test_crimea_coast_is_a_line_without_the_isthmus_cut(w):
    coast = w.region("crimea-coast")
    assert coast.geometry.geom_type in ("LineString", "MultiLineString")
    assert coast.area_km2 == 0.0
    # the cut across the Perekop isthmus is not coast
    perekop = shapely.Point(33.7, 46.22)
    assert coast.geometry.distance(perekop) > 0.02


def test_load_geojson_worldview(tmp_path):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ISO_A2": "AA", "NAME": "Westland"},
                "geometry": shapely.geometry.mapping(shapely.box(0, 0, 10, 10.1)),
            },
            {
                "type": "Feature",
                "properties": {"iso_a2": "-99", "iso_a3": "BBB", "name": "East"},
                "geometry": shapely.geometry.mapping(shapely.box(10, 0, 20, 10)),
            },
            {
                "type": "Feature",
                "properties": {"ISO_A2": "CC", "NAME": "North"},
                "geometry": shapely.geometry.mapping(shapely.box(0, 10.1, 10, 20)),
            },
        ],
    }
    path = tmp_path / "mine.geojson"
    path.write_text(json.dumps(fc))
    mine = load_worldview(path, name="my test map")
    assert mine.worldview == "my test map"
    assert mine.codes() == ["AA", "BBB", "CC"]
    idx = mine.index()
    got = idx.lookup([5, 5, 5, 15], [5, 15, 25, 5])
    assert [mine.countries[i].id if i >= 0 else None for i in got] == ["AA", "BBB", None, "CC"]
    # regions are closed sets; a shared border (off the raster lines) goes to the lower index
    assert mine.countries[0].contains(10.1, 5)[0] and mine.countries[2].contains(10.1, 5)[0]
    assert idx.lookup([10.1], [5])[0] == 0
    pts, regs = idx.memberships([10.1], [5])
    assert pts.tolist() == [0, 0] and regs.tolist() == [0, 2]


def test_bad_boundary_files(tmp_path):
    bad = tmp_path / "x.geojson"
    bad.write_text('{"type": "Feature"}')
    with pytest.raises(ParseError, match="FeatureCollection"):
        load_worldview(bad)
    with pytest.raises(NotFoundError):
        load_worldview(tmp_path / "missing.zip")
    other = tmp_path / "x.txt"
    other.write_text("hello")
    with pytest.raises(ParseError, match="expected .shp"):
        load_worldview(other)
