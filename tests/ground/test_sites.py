"""Site tables, loaders (real files and broken ones), built-in tables, places."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skyfence.errors import InputError, NotFoundError, ParseError
from skyfence.ground import (
    GroundSites,
    cities,
    default_pops,
    load_sites,
    load_sites_csv,
    parse_place,
)


def test_load_real_gateways(shared_data):
    gw = load_sites(shared_data / "starlink-gateways.csv")
    assert len(gw) == 261
    assert set(gw.kind) == {"gateway"}
    # every row carries its ISO2 country, and coordinates in range
    assert all(len(c) == 2 for c in gw.country)
    assert np.all(np.abs(gw.latitude_deg) <= 90)
    assert gw.ecef_km.shape == (261, 3)
    # radius between the polar and equatorial radius (sites near sea level)
    r = np.linalg.norm(gw.ecef_km, axis=1)
    assert np.all((r > 6356.0) & (r < 6379.0))


def test_load_real_pops(shared_data):
    pops = load_sites(shared_data / "starlink-pops.csv", "pop")
    assert len(pops) == 23
    assert "SEA - STTLWAX1" in set(pops.name)
    pops26 = load_sites(shared_data / "starlink-pops-2026.csv", "pop")
    assert len(pops26) == 79
    assert pops26.index_of("wrswpol1") == list(pops26.id).index("wrswpol1")


def test_csv_missing_column_names_file_and_line(tmp_path):
    p = tmp_path / "gw.csv"
    p.write_text("name,lat_deg,longitude_deg\nA,1,2\n")
    with pytest.raises(ParseError, match=r"gw.csv line 1: missing column 'latitude_deg'"):
        load_sites_csv(p)


def test_csv_out_of_range_names_line(tmp_path):
    p = tmp_path / "gw.csv"
    p.write_text("name,latitude_deg,longitude_deg\nA,1,2\nB,95,2\n")
    with pytest.raises(ParseError, match=r"gw.csv line 3: latitude_deg 95.0 is outside"):
        load_sites_csv(p)
    p.write_text("name,latitude_deg,longitude_deg\nA,x,2\n")
    with pytest.raises(ParseError, match=r"line 2: latitude_deg 'x' is not a number"):
        load_sites_csv(p)


def test_missing_file_and_bad_kind(tmp_path):
    with pytest.raises(NotFoundError):
        load_sites(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="terminal, gateway, pop"):
        GroundSites.from_arrays([0.0], [0.0], kind="dish")


def test_geojson_points(tmp_path):
    p = tmp_path / "pops.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [21.0, 52.2]},
         "properties": {"id": "waw", "name": "Warsaw", "country": "PL"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [8.68, 50.11, 100.0]},
         "properties": {"name": "Frankfurt"}},
    ]}))  # fmt: skip
    s = load_sites(p, "pop")
    assert list(s.id) == ["waw", "Frankfurt"]
    assert s.latitude_deg.tolist() == [52.2, 50.11]
    assert s.altitude_m.tolist() == [0.0, 100.0]
    assert s.country[0] == "PL"
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                    }
                ],
            }
        )
    )
    with pytest.raises(ParseError, match="only Point"):
        load_sites(p)


def test_builtin_tables():
    pops = default_pops()
    assert 25 <= len(pops) <= 40
    assert set(pops.kind) == {"pop"}
    assert all(len(c) == 2 for c in pops.country)
    c = cities()
    assert len(c) >= 80
    assert len(set(c.name)) == len(c)


def test_parse_place():
    kyiv = parse_place("Kyiv")
    assert (kyiv.country, round(kyiv.latitude_deg, 2)) == ("UA", 50.45)
    assert parse_place(" new york ").name == "New York"
    p = parse_place("-33.9, 151.2")
    assert (p.latitude_deg, p.longitude_deg) == (-33.9, 151.2)
    with pytest.raises(NotFoundError, match="did you mean"):
        parse_place("Kyv")
    with pytest.raises(InputError, match="within"):
        parse_place("95,0")


def test_nearest_and_subset():
    s = GroundSites.from_arrays([0.0, 0.0, 60.0], [0.0, 90.0, 0.0], kind="pop")
    assert s.nearest([1.0, 59.0, -1.0], [80.0, 1.0, 1.0]).tolist() == [1, 2, 0]
    assert len(s.subset(s.latitude_deg > 10)) == 1
    assert len(s.concat(s)) == 6


def test_fill_countries_keeps_iso2_and_fills_names():
    s = GroundSites.from_arrays(
        [52.2, 50.4, 0.0], [21.0, 30.5, 0.0], country=["PL", "Ukraine", ""], kind="pop"
    )
    filled = s.fill_countries(lambda lat, lon: np.where(lat > 45, "UA", ""))
    assert filled.country.tolist() == ["PL", "UA", ""]
    assert s.country.tolist() == ["PL", "Ukraine", ""]  # the original is unchanged
