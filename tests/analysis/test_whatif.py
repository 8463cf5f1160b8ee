"""What-if reports: landing abroad with the real gateway list, spillover geometry, report files."""

import json

import numpy as np
import pytest
import shapely

from skyfence.analysis.report import write_whatif_report
from skyfence.analysis.whatif import run_whatif, spillover
from skyfence.cli.main import main
from skyfence.ground import load_sites
from skyfence.regions import Region

SHORT = {"duration_s": 120.0, "step_s": 60.0}


@pytest.fixture(scope="module")
def tw_real(shared_data):
    gateways = load_sites(shared_data / "starlink-gateways.csv", "gateway")
    return gateways, run_whatif("TW", gateways=gateways, in_country=False, **SHORT)


def test_real_gateway_list_has_no_taiwan_gateway_and_traffic_lands_abroad(tw_real):
    gateways, report = tw_real
    countries = {str(c).upper() for c in gateways.country}
    assert "TW" not in countries  # independent truth: the published list itself
    assert report.gateways_used, "Taiwan is served from somewhere"
    assert all(g["country"] != "TW" for g in report.gateways_used)
    assert all(g["abroad"] for g in report.gateways_used)
    assert report.lands_abroad and report.lands_abroad_share == pytest.approx(1.0)
    assert report.after["served_fraction"] > 0.9
    assert report.before["served_fraction"] == 0.0


def test_in_country_landing_uses_only_in_country_gateways():
    report = run_whatif("TW", **SHORT)
    assert report.planned_gateways and all(p["country"] == "TW" for p in report.planned_gateways)
    used = report.in_country["gateways_used"]
    assert used and all(g["country"] == "TW" for g in used)
    assert all(p["country"] == "TW" for p in report.in_country["pops_used"])
    # the baseline plan leaves Taiwan without gateways, so the baseline lands abroad
    assert report.lands_abroad


def _box_region(x0, y0, x1, y1):
    return Region("box", "box", shapely.box(x0, y0, x1, y1))


def test_spillover_of_a_beam_on_a_straight_border_is_half_a_disc():
    # a beam centred on the east edge (lon 10) of a 2°x2° box at the equator: half its disc is out
    region = _box_region(8.0, -1.0, 10.0, 1.0)
    r_km = 20.0
    sp = spillover(region, np.array([0.0]), np.array([10.0]), footprint_km=r_km, countries=[])
    assert sp.area_km2 == pytest.approx(np.pi * r_km**2 / 2, rel=0.02)
    assert sp.by_region == [{"region": "", "name": "sea", "area_km2": pytest.approx(sp.area_km2)}]
    # deep inside: nothing spills
    inner = spillover(region, np.array([0.0]), np.array([9.0]), footprint_km=r_km, countries=[])
    assert inner.area_km2 == 0.0
    # the reverse direction: the part inside the region
    inside = spillover(region, np.array([0.0]), np.array([10.0]), direction="inside",
                       footprint_km=r_km, countries=[])  # fmt: skip
    assert inside.area_km2 == pytest.approx(np.pi * r_km**2 / 2, rel=0.02)


def test_spillover_is_split_by_country():
    # a beam on the Taiwan-facing coast of Kinmen lights part of mainland China (Xiamen)
    from skyfence.regions import world

    w = world()
    kinmen = Region("kinmen", "Kinmen", shapely.intersection(w.region("TW").geometry,
                                                             shapely.box(118.1, 24.3, 118.6, 24.6)))  # fmt: skip
    sp = spillover(kinmen, np.array([24.45]), np.array([118.3]), footprint_km=15.0)
    regions = {b["region"] for b in sp.by_region}
    assert "CN" in regions
    assert sum(b["area_km2"] for b in sp.by_region) == pytest.approx(sp.area_km2, rel=1e-6)


def test_report_files_are_written_whole_and_replaced(tmp_path, tw_real):
    _, report = tw_real
    out = tmp_path / "r"
    files = write_whatif_report(report, out)
    for f in files.values():
        assert f.exists() and f.stat().st_size > 0
    doc = json.loads(files["report.json"].read_text())
    assert doc["region"]["id"] == "TW" and doc["lands_abroad"] is True
    assert "Natural Earth" in doc["worldview"]
    md = files["report.md"].read_text()
    assert "Traffic lands abroad" in md and "worldview" in md
    assert files["map.png"].read_bytes()[:4] == b"\x89PNG"
    write_whatif_report(report, out)  # a second run replaces the directory whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_cli_whatif_json(tmp_path, capsys):
    code = main(["whatif", "activate", "TW", "--window", "1m", "--step", "60s", "--no-in-country",
                 "--out", str(tmp_path / "rep"), "--json"])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["action"] == "activate" and doc["region"]["countries"] == ["TW"]
    assert (tmp_path / "rep" / "report.html").exists()


def test_cli_whatif_bad_expression_is_one_line(capsys):
    code = main(["whatif", "activate", "UA -", "--window", "1m"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error:") and err.count("\n") == 1


def test_cli_coverage_writes_geoparquet(tmp_path, capsys):
    out = tmp_path / "lu.parquet"
    code = main(["coverage", "LU", "--window", "1m", "--step", "60s", "--out", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["cells"] == len(doc["cells"]) > 0
    assert out.exists()


def test_cli_whatif_bad_window_fails_before_any_work(capsys):
    code = main(["whatif", "activate", "TW", "--window", "abc"])
    assert code == 1
    err = capsys.readouterr().err
    assert err == (
        "skyfence: error: cannot read duration 'abc': expected e.g. 90s, 15m, 1h, 1h30m, 2d "
        "or a number of seconds\n"
    )
