"""Region expressions and GeoJSON files from people one does not control: bounded, and only
project errors (each case here raised an internal error, or ran without limit, before)."""

from __future__ import annotations

import json
import os
import time

import h3
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError, NotFoundError, ParseError, SkyfenceError
from skyfence.regions import Region, Worldview, parse_region
from skyfence.regions import io as regions_io
from skyfence.regions.io import geojson_geometry, read_geojson_geometry


@pytest.fixture(scope="module")
def tiny() -> Worldview:
    """Two box 'countries': expressions parse in microseconds."""
    return Worldview(
        "test boxes",
        [
            Region("AA", "Aland", shapely.box(0, 0, 10, 10), kind="country"),
            Region("BB", "Bland", shapely.box(10, 0, 20, 10), kind="country"),
        ],
    )


def test_deep_parentheses_are_a_parse_error(tiny):
    assert parse_region("(" * 30 + "AA" + ")" * 30, tiny).area_km2 > 0
    for depth in (33, 250, 90_000):
        with pytest.raises(ParseError, match="nested more than 32 deep"):
            parse_region("(" * depth + "AA" + ")" * depth, tiny)
    with pytest.raises(ParseError, match="nested more than 32 deep"):
        parse_region("buffer(" * 40 + "AA" + ", 1km)" * 40, tiny)


def test_polar_h3_cells_are_regions_and_bad_cells_are_input_errors(tiny):
    # base cell 0 holds the north pole: its hexagon is closed along the top of the map
    north = parse_region("h3:0:8001fffffffffff", tiny)
    assert north.geometry.is_valid and north.contains(90.0, 0.0)[0]
    assert north.area_km2 == pytest.approx(h3.cell_area("8001fffffffffff", "km^2"), rel=0.02)
    south = parse_region("h3:0:80f3fffffffffff", tiny)
    assert south.contains(-90.0, 0.0)[0] and not south.contains(0.0, 0.0)[0]
    assert south.area_km2 == pytest.approx(h3.cell_area("80f3fffffffffff", "km^2"), rel=0.02)
    # the same points as H3's own assignment (edges densified along great circles)
    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(60.0, 90.0, 2000), rng.uniform(-180.0, 180.0, 2000)
    truth = np.array(
        [h3.latlng_to_cell(a, b, 0) == "8001fffffffffff" for a, b in zip(lat, lon, strict=True)]
    )
    assert truth.sum() > 200 and np.mean(north.contains(lat, lon) == truth) > 0.99
    for bad, fragment in [
        ("h3:16:8001fffffffffff", "resolution is 0..15"),
        ("h3:99999999999999999999:8001fffffffffff", "resolution is 0..15"),
        ("h3:1:8001fffffffffff", "has resolution 0, not 1"),
        ("h3:0:7001fffffffffff", "not a valid H3 cell"),
        ("h3:0:fffffffffffffff", "not a valid H3 cell"),
        ("h3:5:", "expected an H3 cell"),
        ("h3:x:8001fffffffffff", "expected h3:RES:CELL"),
    ]:
        with pytest.raises(InputError, match=fragment):
            parse_region(bad, tiny)


def test_h3_lists_are_bounded(tiny):
    cells = h3.grid_disk(h3.latlng_to_cell(5.0, 5.0, 9), 58)  # 10,267 cells
    assert len(cells) > 10_000
    with pytest.raises(ParseError, match="more than 10,000 H3 cells"):
        parse_region("h3:9:" + ",".join(cells), tiny)


def test_operands_and_length_are_bounded(tiny):
    assert parse_region(" | ".join(["AA"] * 256), tiny).area_km2 > 0
    with pytest.raises(ParseError, match="257 operands; at most 256"):
        parse_region(" | ".join(["AA"] * 257), tiny)
    with pytest.raises(ParseError, match="at most 200,000 are read"):
        parse_region("AA" + " " * 200_000, tiny)
    long_name = "x" * 100_000
    start = time.perf_counter()
    with pytest.raises(NotFoundError, match="no region .xxxx"):
        parse_region(long_name, tiny)
    assert time.perf_counter() - start < 1.0


def test_buffer_distances_are_capped(tiny):
    start = time.perf_counter()
    with pytest.raises(ParseError, match="more than 20,040 km"):
        parse_region("buffer(AA, 99999999km)", tiny)
    with pytest.raises(ParseError, match="more than 20,040 km"):
        parse_region("buffer(AA, 20041km)", tiny)
    assert time.perf_counter() - start < 0.5
    assert parse_region("buffer(AA, 20040km)", tiny).area_km2 == pytest.approx(
        510_065_622, rel=1e-6
    )


def test_geojson_devices_directories_and_big_files_are_refused(tmp_path, tiny, monkeypatch):
    start = time.perf_counter()
    with pytest.raises(ParseError, match="must be a regular file"):
        parse_region("geojson:/dev/zero", tiny)
    with pytest.raises(ParseError, match="must be a regular file"):
        parse_region(f"geojson:{tmp_path}", tiny)
    assert time.perf_counter() - start < 0.5
    fifo = tmp_path / "pipe.geojson"
    os.mkfifo(fifo)
    with pytest.raises(ParseError, match="must be a regular file"):
        read_geojson_geometry(fifo)
    big = tmp_path / "big.geojson"
    with big.open("wb") as fh:  # sparse: no disk used
        fh.truncate(regions_io.MAX_GEOJSON_BYTES + 1)
    with pytest.raises(ParseError, match="67,108,865 bytes; at most 67,108,864 are read"):
        parse_region(f"geojson:{big}", tiny)
    small = tmp_path / "small.geojson"
    small.write_text(
        json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]})
    )
    monkeypatch.setattr(regions_io, "MAX_GEOJSON_BYTES", 10)
    with pytest.raises(ParseError, match="at most 10 are read"):
        read_geojson_geometry(small)


def test_bad_geojson_is_a_parse_error(tmp_path):
    cases = {
        "deep": "[" * 100_000 + "]" * 100_000,
        "not utf-8": b"\xff\xfe{".decode("latin-1"),
        "nan": '{"type": "Polygon", "coordinates": [[[0, 0], [1, NaN], [1, 1], [0, 0]]]}',
        "projected": '{"type": "Polygon", "coordinates": [[[0, 0], [500000, 0], [0, 400000], [0, 0]]]}',
        "bad ring": '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}',
        "no polygon": '{"type": "Point", "coordinates": [0, 0]}',
        "features not a list": '{"type": "FeatureCollection", "features": 3}',
    }
    for name, text in cases.items():
        f = tmp_path / f"{name}.geojson"
        f.write_bytes(text.encode("latin-1") if name == "not utf-8" else text.encode())
        with pytest.raises(ParseError):
            read_geojson_geometry(f)


# ----------------------------------------------------------------------------- fuzzing
_TOKENS = [
    "AA",
    "BB",
    "aa",
    "'Aland'",
    "crimea",
    "x",
    "(",
    ")",
    "|",
    "&",
    "-",
    " ",
    ",",
    "buffer",
    "buffer(",
    "100km",
    "0km",
    "1e9km",
    "99999999km",
    "12nmi",
    "500m",
    "h3:",
    "h3:5:",
    "h3:0:",
    "8001fffffffffff",
    "85754e67fffffff",
    "geojson:",
    "geojson:/dev/zero",
    "'",
    '"',
    "\x00",
    "é",
    "--",
    "((",
    "))",
    "-AA",
    "AA-BB",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=12).map("".join))
@example("geojson:\x00")  # found by this test: a NUL in a path raised ValueError
def test_fuzzed_expressions_raise_only_project_errors(tiny, text):
    try:
        region = parse_region(text, tiny)
    except SkyfenceError:
        return
    assert region.geometry.is_valid or region.geometry.is_empty


_coords = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-200, 200)
_geometries = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", "Nope", 3]),
        "coordinates": st.recursive(
            st.lists(_coords, max_size=3), lambda c: st.lists(c, max_size=5), max_leaves=20
        ),
    }
)


@settings(max_examples=250, deadline=None)
@given(
    st.one_of(
        _geometries,
        st.fixed_dictionaries({"type": st.just("Feature"), "geometry": _geometries}),
        st.fixed_dictionaries(
            {"type": st.just("FeatureCollection"), "features": st.lists(_geometries, max_size=3)}
        ),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )
)
def test_fuzzed_geojson_raises_only_project_errors(data):
    try:
        geometry = geojson_geometry(data)
    except SkyfenceError:
        return
    assert np.isfinite(shapely.get_coordinates(geometry)).all()
