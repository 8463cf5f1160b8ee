"""Regions: areas, set operations, buffers, expressions and H3 covers."""

from __future__ import annotations

import json
import math

import h3
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.regions import Region, parse_region

GEOD = Geod(ellps="WGS84")


def _geod_area_km2(geometry) -> float:
    """Independent area: pyproj's geodesic polygon area, part by part."""
    total = 0.0
    for part in shapely.get_parts(geometry):
        area, _ = GEOD.geometry_area_perimeter(shapely.geometry.polygon.orient(part, 1.0))
        total += abs(area)
    return total / 1e6


def test_country_area_matches_pyproj_and_published_values(w):
    ua = w.region("UA")
    assert ua.area_km2 == pytest.approx(_geod_area_km2(ua.geometry), rel=1e-9)
    assert ua.area_km2 == pytest.approx(603_550, rel=0.02)  # Ukraine incl. Crimea
    assert w.region("TW").area_km2 == pytest.approx(36_197, rel=0.03)


def test_difference_area(w):
    ua, crimea = w.region("UA"), w.region("crimea")
    rest = parse_region("UA - crimea", w)
    assert rest.id == "UA - crimea"
    assert rest.area_km2 == pytest.approx(ua.area_km2 - crimea.area_km2, rel=1e-6)
    assert not rest.contains(44.60, 33.52)[0] and rest.contains(50.45, 30.52)[0]
    # the hyphen form means the same
    assert parse_region("UA-crimea", w).area_km2 == pytest.approx(rest.area_km2, rel=1e-12)


def test_union_intersection_and_precedence(w):
    tw, cn = w.region("TW"), w.region("CN")
    both = parse_region("TW | CN", w)
    assert both.area_km2 == pytest.approx(tw.area_km2 + cn.area_km2, rel=1e-6)
    assert parse_region("TW & CN", w).area_km2 < 1.0  # disjoint
    # '-' binds tighter than '&', '&' tighter than '|'
    a = parse_region("TW | CN & TW", w)
    assert a.area_km2 == pytest.approx(tw.area_km2, rel=1e-6)
    b = parse_region("(TW | CN) & TW", w)
    assert b.area_km2 == pytest.approx(tw.area_km2, rel=1e-6)
    c = parse_region("UA - crimea & UA", w)
    assert c.area_km2 == pytest.approx(
        ua_minus := parse_region("UA - crimea", w).area_km2, rel=1e-6
    ), ua_minus


@pytest.mark.parametrize(("lat", "lon"), [(10.0, 20.0), (-35.0, 140.0), (60.0, -100.0)])
def test_buffer_of_a_point_like_region_is_pi_r_squared(lat, lon):
    tiny = Region("dot", "dot", shapely.Point(lon, lat).buffer(1e-6))
    grown = tiny.buffer(100.0)
    assert grown.area_km2 == pytest.approx(math.pi * 100.0**2, rel=0.01)
    # every boundary point is 100 km from the centre (geodesic)
    xy = shapely.get_coordinates(shapely.boundary(grown.geometry))
    _, _, dist = GEOD.inv(np.full(len(xy), lon), np.full(len(xy), lat), xy[:, 0], xy[:, 1])
    assert np.allclose(dist / 1000.0, 100.0, rtol=0.005)


def test_buffer_across_the_antimeridian_keeps_both_parts():
    tiny = Region("dot", "dot", shapely.Point(179.8, -17.0).buffer(1e-6))
    grown = tiny.buffer(100.0)
    minx, _, maxx, _ = grown.bounds
    assert minx >= -180.0 and maxx <= 180.0
    assert grown.contains(-17.0, -179.5)[0] and grown.contains(-17.0, 179.0)[0]
    assert not grown.contains(-17.0, 0.0)[0]
    assert grown.area_km2 == pytest.approx(math.pi * 100.0**2, rel=0.01)


def test_buffer_expression(w):
    r = parse_region("buffer(crimea-coast, 100km)", w)
    assert r.contains(44.60, 33.52)[0]  # Sevastopol, on the coast
    assert r.contains(45.0, 31.6)[0]  # Black Sea, ~75 km west of Crimea
    assert not r.contains(47.5, 34.0)[0]  # ~160 km north of the coast
    nmi = parse_region("buffer(TW, 12nmi)", w)
    km = parse_region("buffer(TW, 22.224km)", w)
    assert nmi.area_km2 == pytest.approx(km.area_km2, rel=1e-9)
    with pytest.raises(InputError, match="km >= 0"):
        w.region("TW").buffer(-5)


def test_geojson_and_h3_atoms(w, tmp_path):
    poly = shapely.box(30.0, 50.0, 31.0, 51.0)
    path = tmp_path / "area.geojson"
    path.write_text(
        json.dumps(
            {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(poly)}
        )
    )
    r = parse_region(f"geojson:{path} & UA", w)
    assert r.area_km2 == pytest.approx(_geod_area_km2(poly), rel=1e-3)
    cell = h3.latlng_to_cell(50.45, 30.52, 5)
    nb = [c for c in h3.grid_disk(cell, 1) if c != cell][0]
    hexes = parse_region(f"h3:5:{cell},{nb}", w)
    assert hexes.area_km2 == pytest.approx(
        h3.cell_area(cell, unit="km^2") + h3.cell_area(nb, unit="km^2"), rel=0.01
    )
    assert set(hexes.cells(5).tolist()) >= {h3.str_to_int(cell), h3.str_to_int(nb)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("UA -", "expected a region but found 'end of text'"),
        ("UA + RU", "unexpected character '+'"),
        ("buffer(UA)", "expected ',' and a distance"),
        ("buffer(UA, 10)", "a distance with a unit"),
        ("(UA", "expected ')'"),
        ("h3:5:zz", "expected an H3 cell"),
        ("h3:4:851e6227fffffff", "has resolution 5, not 4"),
        ("", "empty expression"),
        ("UA RU", "expected an operator"),
    ],
)
def test_bad_expressions_say_what_was_expected(w, text, message):
    with pytest.raises(ParseError) as err:
        parse_region(text, w)
    assert message in str(err.value)
    assert "buffer(EXPR, 100km)" in str(err.value)  # the valid forms are listed


def test_unknown_name_in_expression(w):
    with pytest.raises(NotFoundError, match="did you mean"):
        parse_region("Tawian | CN", w)


def test_no_eval(w):
    with pytest.raises(ParseError):
        parse_region("__import__('os').system('true')", w)


def test_antimeridian_cover_does_not_wrap(w):
    fj = w.region("FJ")
    cells = fj.cells(3)
    lons = np.array([h3.cell_to_latlng(h3.int_to_str(int(c)))[1] for c in cells])
    assert np.all(np.abs(lons) > 170.0)
    # both sides of ±180 are covered
    assert (lons > 0).any() and (lons < 0).any()
    for lat, lon in [(-16.88, 179.975), (-16.82, -179.93)]:
        assert h3.str_to_int(h3.latlng_to_cell(lat, lon, 3)) in set(cells.tolist())


def test_cover_is_center_cells_plus_border(w):
    tw = w.region("TW")
    cells = tw.cells(5)
    assert cells.dtype == np.uint64 and np.all(np.diff(cells.astype(np.int64)) > 0)
    centres = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells])
    inside = tw.contains(centres[:, 0], centres[:, 1])
    # cells whose centre is outside must touch the region (border cells)
    for c in cells[~inside][:50]:
        hexagon = shapely.Polygon(
            [(lo, la) for la, lo in h3.cell_to_boundary(h3.int_to_str(int(c)))]
        )
        assert hexagon.buffer(0.01).intersects(tw.geometry)


_COVER_REGIONS = ("TW", "LS", "crimea", "FJ")


@pytest.fixture(scope="module")
def border_points(w):
    out = {}
    for key in _COVER_REGIONS:
        r = w.region(key)
        out[key] = (r, shapely.get_coordinates(shapely.boundary(r.geometry)))
    return out


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    which=st.sampled_from(_COVER_REGIONS),
    resolution=st.integers(min_value=2, max_value=7),
    u=st.floats(min_value=0.0, max_value=1.0),
    v=st.floats(min_value=0.0, max_value=1.0),
    near_border=st.booleans(),
)
def test_point_inside_region_lies_in_its_cover(border_points, which, resolution, u, v, near_border):
    region, coords = border_points[which]
    if near_border:
        # a point within ~300 m of a boundary vertex: the hard case for covers
        lon, lat = coords[int(u * (len(coords) - 1))]
        lon += (v - 0.5) * 0.006
        lat += (u * 7.0 % 1.0 - 0.5) * 0.006
    else:
        minx, miny, maxx, maxy = region.bounds
        lon, lat = minx + u * (maxx - minx), miny + v * (maxy - miny)
    assume(-180.0 <= lon <= 180.0)
    assume(bool(region.contains(lat, lon)[0]))
    cell = h3.str_to_int(h3.latlng_to_cell(lat, lon, resolution))
    cover = region.cells(resolution)
    assert cell in set(cover.tolist())
