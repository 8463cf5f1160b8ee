"""``skyfence links ...`` in-process: human and --json output, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skyfence.cli.main import main
from skyfence.ground import GroundSites, great_circle_km
from skyfence.links import visible_pairs
from skyfence.orbits import Constellation

START = "2026-02-22T12:00:00Z"


def run_json(capsys, *args):
    code = main(["links", *args, "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_visible_json_matches_api(capsys):
    data = run_json(capsys, "visible", "50.45", "30.52", "--time", START)
    c = Constellation.from_preset("starlink-gen1")
    eph = c.propagate(np.array([np.datetime64("2026-02-22T12:00:00", "ns")]))
    site = GroundSites.from_arrays([50.45], [30.52])
    v = visible_pairs(site.ecef_km, site.up, eph.at(0), 25.0)
    assert data["count"] == len(v) > 10
    assert {r["sat"] for r in data["satellites"]} == set(v.sat.tolist())
    el = [r["elevation_deg"] for r in data["satellites"]]
    assert el == sorted(el, reverse=True) and min(el) >= 25.0
    assert data["time"] == "2026-02-22T12:00:00Z"


def test_visible_human(capsys):
    assert main(["links", "visible", "0", "0", "--time", START, "--min-elevation", "40"]) == 0
    assert "satellites above 40°" in capsys.readouterr().out


def test_rtt_between_cities(capsys):
    data = run_json(capsys, "rtt", "--from", "London", "--to", "40.71,-74.0", "--start", START)
    gc = float(great_circle_km(51.5074, -0.1278, 40.71, -74.0))
    assert data["great_circle_km"] == pytest.approx(gc, abs=1e-3)
    assert data["path"][0] == "London" and data["path"][-1] == "40.7100,-74.0000"
    assert data["laser_hops"] == len(data["path"]) - 3
    assert 2 * gc / 299792.458 * 1000 < data["mesh_rtt_ms"] < data["fibre_rtt_ms"]
    assert main(["links", "rtt", "--from", "London", "--to", "Kyiv", "--start", START]) == 0
    assert "laser mesh" in capsys.readouterr().out


def test_terminal_schedule(capsys, tmp_path):
    gw = tmp_path / "gw.csv"
    gw.write_text(
        "name,country,latitude_deg,longitude_deg\nWarsaw-GW,PL,52.1,20.9\nKyiv-GW,UA,50.4,30.4\n"
    )
    data = run_json(
        capsys,
        "terminal",
        "50.45",
        "30.52",
        "--duration",
        "2m",
        "--start",
        START,
        "--gateways",
        str(gw),
    )
    assert len(data["slots"]) == 9 and data["slot_s"] == 15.0
    rtts = [s["rtt_ms"] for s in data["slots"]]
    assert data["median_rtt_ms"] == pytest.approx(float(np.median(rtts)))
    assert all(s["pop"] == "Warsaw" for s in data["slots"])  # nearest built-in PoP to Kyiv
    assert all(s["gateway"] in ("Warsaw-GW", "Kyiv-GW") for s in data["slots"])
    sats = [s["sat"] for s in data["slots"]]
    changes = sum(a != b for a, b in zip(sats[:-1], sats[1:], strict=True))
    assert data["handovers"] == changes
    assert data["handovers_per_hour"] == pytest.approx(changes / (8 * 15 / 3600))
    assert (
        main(
            [
                "links",
                "terminal",
                "50.45",
                "30.52",
                "--duration",
                "30s",
                "--start",
                START,
                "--gateways",
                str(gw),
            ]
        )
        == 0
    )
    assert "median RTT" in capsys.readouterr().out


def test_hypatia_export_and_route(capsys, tmp_path):
    out = tmp_path / "hyp"
    data = run_json(capsys, "export-hypatia", str(out), "--constellation", "kuiper")
    assert data["satellites"] == 3236 and data["isls"] > 6000
    assert (out / "tles.txt").read_text().startswith("34 34\n")
    route = run_json(
        capsys, "hypatia", str(out), "--from", "London", "--to", "Madrid", "--at", "30"
    )
    assert route["path_labels"][0].startswith("GS") and route["path_labels"][-1].startswith("GS")
    assert route["rtt_ms"] == pytest.approx(2 * route["length_km"] / 299792.458 * 1000)
    assert main(["links", "hypatia", str(out), "--from", "0", "--to", "1"]) == 0
    assert "RTT" in capsys.readouterr().out


def test_errors_are_one_line(capsys, tmp_path):
    assert main(["links", "rtt", "--from", "Atlantis", "--to", "London", "--start", START]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: unknown place 'Atlantis'") and err.count("\n") == 1
    assert main(["links", "visible", "95", "0"]) == 1
    assert "latitude 95.0" in capsys.readouterr().err
    assert main(["links", "visible", "0", "0", "--constellation", "nope"]) == 1
    assert "kuiper, starlink-gen1" in capsys.readouterr().err
    assert main(["links", "hypatia", str(tmp_path), "--from", "0", "--to", "1"]) == 1
    assert "tles.txt" in capsys.readouterr().err
    bad = tmp_path / "gw.csv"
    bad.write_text("name,latitude_deg,longitude_deg\nX,1,200\n")
    assert main(["links", "terminal", "0", "0", "--gateways", str(bad), "--start", START]) == 1
    assert "gw.csv line 2: longitude_deg 200.0 is outside" in capsys.readouterr().err
    assert main(["links", "terminal", "0", "0", "--rule", "coin", "--start", START]) == 1
    assert "max-elevation, longest-visible, min-rtt" in capsys.readouterr().err
