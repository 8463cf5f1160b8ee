"""What-if reports: landing abroad with the real gateway list, spillover geometry, report files."""

import json

import numpy as np
import pytest
import shapely

from skyfence.analysis.report import write_whatif_report
from skyfence.analysis.whatif import excluded_regions, run_whatif, spillover
from skyfence.cli.main import main
from skyfence.errors import InputError
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


def test_report_files_are_written_whole_and_never_replaced_unasked(tmp_path, tw_real):
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
    before = files["report.json"].read_bytes()
    with pytest.raises(
        InputError, match="already exists; choose another --out or pass --overwrite"
    ):
        write_whatif_report(report, out)
    assert files["report.json"].read_bytes() == before
    write_whatif_report(report, out, overwrite=True)  # asked: replaced whole
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


def test_excluded_regions_are_the_top_level_differences():
    ids = lambda expr: [r.id for r in excluded_regions(expr)]  # noqa: E731
    assert ids("UA - crimea") == ["crimea"]
    assert ids("UA-crimea") == ["crimea"]
    assert ids("(UA - crimea)") == ["crimea"]
    assert ids("UA - crimea-coast") == ["crimea-coast"]  # a hyphen inside a name is no operator
    assert ids("UA - crimea - MD") == ["crimea", "MD"]
    assert ids("TW") == [] and ids("UA | crimea") == [] and ids("buffer(UA - crimea, 10km)") == []


def test_spill_into_a_switched_off_area_has_its_own_row_and_the_parts_add_up():
    # a beam on the east edge of a box region; the half disc outside falls half into a
    # switched-off box (north of the equator) and half into the sea
    region = _box_region(8.0, -1.0, 10.0, 1.0)
    off = Region("off", "switched-off box", shapely.box(10.0, 0.0, 12.0, 2.0))
    r_km = 20.0
    sp = spillover(region, np.array([0.0]), np.array([10.0]), footprint_km=r_km, countries=[],
                   switched_off=[off])  # fmt: skip
    quarter = np.pi * r_km**2 / 4
    assert sp.area_km2 == pytest.approx(2 * quarter, rel=0.02)
    assert sp.switched_off == [
        {"region": "off", "name": "switched-off box", "area_km2": pytest.approx(quarter, rel=0.02)}
    ]
    assert sp.by_region == [
        {"region": "", "name": "sea", "area_km2": pytest.approx(quarter, rel=0.02)}
    ]
    assert sum(r["area_km2"] for r in sp.switched_off + sp.by_region) == pytest.approx(sp.area_km2)
    # the cells it reaches: every one holds part of the lit area, and the lit area is in them
    assert len(sp.cells) > 0
    from skyfence.regions._geo import cells_geometry

    cover = cells_geometry(sp.cells)
    assert shapely.difference(sp.geometry, cover).area < 1e-9
    assert all(
        shapely.intersects(cells_geometry(np.array([c], dtype=np.uint64)), sp.geometry)
        for c in sp.cells
    )


def test_deactivation_map_paints_the_region_dark_and_its_surroundings_lit():
    from skyfence.analysis.maps import SERVED_CLASSES
    from skyfence.analysis.report import whatif_map_figure

    report = run_whatif("crimea", "deactivate", **SHORT)
    assert report.after["served_fraction"] == 0.0 and report.surroundings is not None
    assert report.surroundings.served_fraction.min() > 0.5
    fig = whatif_map_figure(report)
    ax, bar = fig.axes
    assert [t.get_text() for t in bar.get_yticklabels()] == [lab for _, lab in SERVED_CLASSES]
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())

    def pixel(lon, lat):
        x, y = ax.transData.transform((lon, lat))
        return tuple(int(v) for v in rgba[int(round(rgba.shape[0] - y)), int(round(x)), :3])

    cmap = ax.collections[0].get_cmap()
    never = tuple(int(round(255 * v)) for v in cmap(0)[:3])
    always = tuple(int(round(255 * v)) for v in cmap(cmap.N - 1)[:3])
    simferopol = pixel(34.10, 44.95)
    assert max(abs(a - b) for a, b in zip(simferopol, never, strict=True)) <= 3
    south_sea = report.surroundings  # a cell around the region, served all the time
    k = int(np.argmax(south_sea.served_fraction))
    lit = pixel(float(south_sea.longitude_deg[k]), float(south_sea.latitude_deg[k]))
    assert max(abs(a - b) for a, b in zip(lit, always, strict=True)) <= 3
