"""``skyfence whatif``, ``coverage`` and ``demo`` driven through the real CLI.

Each test pins a fault of an earlier version: a switched-off region reported as served, a
gateway planned inside an excluded area, spillover numbers that disagreed, the demo ignoring
``--start``, reports replacing each other, output paths checked only after the work, and
commands that disagreed on the RTT of one place and time.
"""

from __future__ import annotations

import json
from pathlib import Path

import h3
import numpy as np
import pytest

from clirun import run, run_json
from skyfence.regions import parse_region

START = "2026-02-22T12:00:00Z"
SHORT = ["--window", "1m", "--step", "60s"]


@pytest.fixture()
def reports(tmp_path, monkeypatch):
    """Reports go under a temporary directory (the default --out)."""
    monkeypatch.setenv("SKYFENCE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "reports"


def _spill_adds_up(sp: dict) -> None:
    parts = sum(r["area_km2"] for r in sp["by_region"]) + sum(
        r["area_km2"] for r in sp["switched_off"]
    )
    assert parts == pytest.approx(sp["area_km2"], rel=1e-6, abs=0.05)
    assert (sp["area_km2"] > 0) == (sp["cells_reached"] > 0)


def test_deactivate_crimea_leaves_it_dark_and_plans_nothing_for_it(capsys, tmp_path):
    out = tmp_path / "crimea-off"
    d = run_json(capsys, "whatif", "deactivate", "crimea", *SHORT, "--out", str(out))
    assert d["before"]["served_fraction"] > 0.9
    assert d["after"]["served_fraction"] == 0.0
    # no landing plan, no planned gateway serves a region that is switched off
    assert d["in_country"] is None and d["planned_gateways"] == []
    crimea = parse_region("crimea")
    report = json.loads((out / "report.json").read_text())
    assert report["switched_off"][0]["id"] == "crimea"
    # every cell of the region is dark after, in the report and in the cell file
    assert all(c["served_fraction_after"] == 0.0 for c in report["cells"])
    cells = json.loads((out / "cells.geojson").read_text())["features"]
    assert cells and all(f["properties"]["served_fraction_after"] == 0.0 for f in cells)
    # the gateways that served it before stand outside it (the plan avoids the region)
    used = d["gateways_used"]
    assert (
        used
        and not crimea.contains(
            [g["latitude_deg"] for g in used], [g["longitude_deg"] for g in used]
        ).any()
    )
    sp = d["spillover"]
    assert sp["direction"] == "inside" and sp["area_km2"] > 0
    _spill_adds_up(sp)
    md = (out / "report.md").read_text()
    assert f"reaching {sp['cells_reached']} cell(s)" in md


def test_activate_ua_minus_crimea_avoids_crimea_and_names_the_spill_into_it(capsys, tmp_path):
    d = run_json(capsys, "whatif", "activate", "UA - crimea", *SHORT, "--out", str(tmp_path / "ua"))
    crimea = parse_region("crimea")
    planned = d["planned_gateways"]
    assert planned and all(p["country"] == "UA" for p in planned)
    inside = crimea.contains(
        [p["latitude_deg"] for p in planned], [p["longitude_deg"] for p in planned]
    )
    assert not inside.any(), "a gateway was planned inside the excluded area"
    assert [o["id"] for o in d["switched_off"]] == ["crimea"]
    sp = d["spillover"]
    into = {r["region"]: r["area_km2"] for r in sp["switched_off"]}
    assert into.get("crimea", 0) > 100  # the beams on the Perekop isthmus light its north
    # the rest of Ukraine is inside the region, so no spill is left to report as "Ukraine"
    assert all(r["region"] != "UA" or r["area_km2"] < 1 for r in sp["by_region"])
    _spill_adds_up(sp)
    md = (tmp_path / "ua" / "report.md").read_text()
    assert "which stays switched off" in md


def test_one_place_and_time_gives_one_rtt_in_every_command(capsys, tmp_path):
    # a resolution-5 cell over Taipei; a terminal at its centre
    cell = h3.latlng_to_cell(25.03, 121.56, 5)
    lat, lon = h3.cell_to_latlng(cell)
    gw = tmp_path / "gw.csv"
    gw.write_text(
        "name,country,latitude_deg,longitude_deg\nOkinawa,JP,26.2,127.7\nManila,PH,14.6,121.0\n"
    )
    window = ["--start", START]
    term = run_json(capsys, "links", "terminal", f"{lat}", f"{lon}", "--duration", "1m", *window)
    assert term["rule"] == "min-rtt" and all(np.isfinite(s["rtt_ms"]) for s in term["slots"])
    cov = run_json(capsys, "coverage", f"h3:5:{cell}", "--window", "1m", "--step", "15s", *window)
    row = next(r for r in cov["cells"] if r["cell"] == cell)
    assert cov["rule"] == "min-rtt"
    assert row["rtt_p50_ms"] == pytest.approx(term["median_rtt_ms"], abs=1e-3)
    # the what-if with a gateway file, and links terminal with the same file
    term_gw = run_json(
        capsys, "links", "terminal", f"{lat}", f"{lon}", "--duration", "1m", *window,
        "--gateways", str(gw),
    )  # fmt: skip
    out = tmp_path / "w"
    run_json(
        capsys, "whatif", "activate", f"h3:5:{cell}", "--window", "1m", "--step", "15s",
        *window, "--gateways", str(gw), "--no-in-country", "--out", str(out),
    )  # fmt: skip
    row = next(
        r for r in json.loads((out / "report.json").read_text())["cells"] if r["cell"] == cell
    )
    assert row["rtt_p50_ms"] == pytest.approx(term_gw["median_rtt_ms"], abs=1e-3)
    assert term_gw["median_rtt_ms"] != pytest.approx(term["median_rtt_ms"], abs=1e-3)


def test_demo_honours_start_in_every_part(capsys, tmp_path):
    start = "2026-03-01T00:00:00Z"
    d = run_json(
        capsys, "demo", "--start", start, "--duration", "1m", "--step", "60s", "--region", "LU",
        "--out", str(tmp_path / "demo"),
    )  # fmt: skip
    assert d["propagation"]["start"] == start
    assert d["whatif"]["window"]["start"] == start
    assert d["whatif"]["window"]["duration_s"] == 60.0 and d["whatif"]["window"]["step_s"] == 60.0
    assert Path(d["whatif"]["files"]["report.json"]).exists()


def test_reports_never_replace_each_other(capsys, reports):
    first = run_json(capsys, "whatif", "activate", "LU", *SHORT, "--no-in-country")
    second = run_json(capsys, "whatif", "activate", "LU", *SHORT, "--no-in-country", "--res", "4")
    a, b = Path(first["files"]["report.json"]), Path(second["files"]["report.json"])
    assert a.parent != b.parent and a.parent.parent == b.parent.parent == reports
    assert json.loads(a.read_text())["setup"]["resolution"] == 5
    assert json.loads(b.read_text())["setup"]["resolution"] == 4
    assert first["run_id"] in a.parent.name
    # an explicit --out that exists is refused, before any work, unless --overwrite
    code, _, err = run(capsys, "whatif", "activate", "LU", *SHORT, "--out", str(a.parent))
    assert code == 1 and err.count("\n") == 1
    assert "already exists; choose another --out or pass --overwrite" in err
    assert json.loads(a.read_text())["setup"]["resolution"] == 5
    again = run_json(
        capsys, "whatif", "activate", "LU", *SHORT, "--res", "4", "--no-in-country",
        "--out", str(a.parent), "--overwrite",
    )  # fmt: skip
    assert json.loads(a.read_text())["setup"]["resolution"] == 4 and again["files"]


@pytest.mark.parametrize(
    "args",
    [
        ["whatif", "activate", "TW", "--window", "1h", "--out", "{file}/report"],
        ["whatif", "deactivate", "TW", "--window", "1h", "--out", "{file}"],
        ["coverage", "TW", "--window", "1h", "--out", "{file}/tw.parquet"],
        ["coverage", "TW", "--window", "1h", "--out", "{dir}"],
        ["demo", "--out", "{file}/demo"],
        ["region", "show", "TW", "--png", "{file}/tw.png"],
        ["links", "export-hypatia", "{file}/hypatia"],
    ],
)
def test_output_paths_are_checked_before_the_work(capsys, tmp_path, args):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    args = [a.format(file=a_file, dir=tmp_path) for a in args]
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.startswith("skyfence: error: ") and err.count("\n") == 1, err  # no progress bar
    assert "internal error" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["whatif", "activate", "TW", "--footprint-km", "-5"], "footprint"),
        (["whatif", "activate", "TW", "--res", "42"], "H3 resolution must be"),
        (["whatif", "activate", "TW", "--gateways", "/no/such.csv"], "/no/such.csv"),
        (["coverage", "LU", "--out", "lu.txt"], "lu.txt"),
        (["demo", "--workers", "0"], "--workers must be"),
        (["links", "visible", "0", "0", "--min-elevation", "95"], "must be within"),
        (["links", "terminal", "0", "0", "--slot", "0s"], "--slot must be > 0"),
        (["region", "show", "TW", "--png", "tw.jpg"], "tw.jpg"),
        (["region", "list", "--boundaries", "/no/such.geojson"], "/no/such.geojson"),
        (["whatif", "activate", "TW", "--window", "100000d"], "more than 1,000,000"),
        (["whatif", "activate", "UA", "--window", "100d"], "cell-steps"),
        (["links", "terminal", "0", "0", "--duration", "30d"], "satellite-steps"),
        (["demo", "--duration", "30d"], "satellite-steps"),
    ],
)
def test_invalid_input_exits_1_with_one_line(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.startswith("skyfence: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not any(tmp_path.iterdir()), "nothing is written on bad input"


# ---------------------------------------------------------------- --skip-invalid, file modes

GOLDEN_ELEMENTS = Path(__file__).resolve().parents[1] / "golden" / "elements"


@pytest.fixture()
def one_bad_record(tmp_path):
    """The golden 4-satellite 3LE with the first record's line-2 checksum broken."""
    lines = (GOLDEN_ELEMENTS / "starlink-4.3le").read_text().splitlines()
    lines[1] = lines[1][:68] + str((int(lines[1][68]) + 1) % 10)
    path = tmp_path / "bad.3le"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "command", [["coverage", "h3:3:831fa3fffffffff"], ["whatif", "activate", "LU"]]
)
def test_whatif_and_coverage_take_skip_invalid(capsys, tmp_path, reports, one_bad_record, command):
    args = [*command, "--constellation", str(one_bad_record), "--window", "1m", "--step", "60s"]
    if command[0] == "whatif":
        args += ["--out", str(tmp_path / "r"), "--no-in-country"]
    code, _, err = run(capsys, *args)
    assert code == 1 and "pass --skip-invalid" in err and err.count("\n") == 1
    code, _, err = run(capsys, *args, "--skip-invalid", "--json")
    assert code == 0, err


def test_coverage_files_get_the_mode_of_a_new_file(capsys, tmp_path):
    from skyfence.files import new_file_mode

    for name in ("c.geojson", "c.parquet"):
        out = tmp_path / name
        run_json(capsys, "coverage", "h3:3:831fa3fffffffff", *SHORT, "--out", str(out))
        assert out.stat().st_mode & 0o777 == new_file_mode()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
