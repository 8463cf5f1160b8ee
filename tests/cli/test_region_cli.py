"""`skyfence region ...` run in-process."""

from __future__ import annotations

import json

import pytest

from skyfence.cli.main import main

WORLDVIEW = "Natural Earth 1:10m admin-0, point of view DEU (v5.1.1)"


def test_lookup_human(capsys):
    assert main(["region", "lookup", "24.44", "118.37"]) == 0
    out = capsys.readouterr().out
    assert "TW" in out and "Taiwan" in out and "point of view DEU" in out


def test_lookup_json_with_negative_coordinates(capsys):
    assert main(["region", "lookup", "-29.31", "27.48", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["country"] == "LS"
    assert data["worldview"] == WORLDVIEW
    assert [r["id"] for r in data["regions"]] == ["LS"]


def test_lookup_sevastopol_lists_crimea(capsys):
    assert main(["region", "lookup", "44.60", "33.52", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["country"] == "UA"
    assert [r["id"] for r in data["regions"]] == ["UA", "crimea"]


def test_lookup_maritime(capsys):
    # ~10 km west of Portugal's coast at 39.5°N
    assert main(["region", "lookup", "39.5", "-9.45", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["country"] is None
    assert main(["region", "lookup", "39.5", "-9.45", "--maritime-km", "22.2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["country"] == "PT" and data["maritime_km"] == 22.2


def test_lookup_bad_latitude(capsys):
    assert main(["region", "lookup", "95", "10"]) == 1
    assert "latitude must be within -90..90" in capsys.readouterr().err


def test_show_writes_png(tmp_path, capsys):
    png = tmp_path / "map.png"
    assert main(["region", "show", "UA - crimea", "--res", "4", "--png", str(png), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == "UA - crimea"
    assert 550_000 < data["area_km2"] < 580_000
    assert data["resolution"] == 4 and data["cell_count"] > 100
    assert data["bounds"]["min_lat"] == pytest.approx(45.21, abs=0.05)
    assert data["worldview"] == WORLDVIEW
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5_000


def test_show_human(capsys):
    assert main(["region", "show", "TW", "--res", "3"]) == 0
    out = capsys.readouterr().out
    assert "Taiwan" in out and "km²" in out and "H3 res 3" in out


def test_show_bad_expression_says_what_was_expected(capsys):
    assert main(["region", "show", "UA -"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: region expression: expected a region")
    assert "buffer(EXPR, 100km)" in err
    assert err.count("\n") == 1


def test_show_unknown_region(capsys):
    assert main(["region", "show", "Ukrane"]) == 1
    assert "did you mean" in capsys.readouterr().err


def test_list_json(capsys):
    assert main(["region", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["worldview"] == WORLDVIEW
    ids = {r["id"]: r for r in data["regions"]}
    assert ids["TW"]["alpha3"] == "TWN" and ids["FR"]["name"] == "France"
    assert ids["crimea"]["kind"] == "builtin"
    assert len(ids) > 240


def test_other_boundaries_file(tmp_path, capsys):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"ISO_A2": "AA", "NAME": "Westland"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]],
                },
            }
        ],
    }
    path = tmp_path / "borders.geojson"
    path.write_text(json.dumps(fc))
    args = ["--boundaries", str(path), "--json"]
    assert main(["region", "lookup", "5", "5", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["country"] == "AA" and data["worldview"] == "borders.geojson"
    assert main(["region", "list", *args]) == 0
    ids = [r["id"] for r in json.loads(capsys.readouterr().out)["regions"]]
    assert ids[0] == "AA"
