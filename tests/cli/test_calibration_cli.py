"""``skyfence links validate|calibrate`` and the latency-model options of ``links terminal`` and
``links rtt``, in-process on the fixture files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clirun import run, run_json
from skyfence.links.calibration import load_latency_model

DATA = Path(__file__).resolve().parents[1] / "links" / "data" / "calib"
START = "2026-02-22T12:00:00Z"
FILES = [
    "--gateways", str(DATA / "gateways.csv"), "--pops", str(DATA / "pops.csv"),
    "--pop-map", str(DATA / "city-pops.csv"),
]  # fmt: skip
WINDOW = ["--start", "2026-02-22T00:00:00Z", "--duration", "1h", "--step", "20m"]


@pytest.fixture(autouse=True)
def _isolated(isolated_env):
    return isolated_env


def test_validate_json_and_human(capsys, tmp_path):
    d = run_json(
        capsys, "links", "validate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW
    )
    assert [c["iso3"] for c in d["countries"]] == ["GBR", "DEU", "ZAF", "BWA", "LSO", "FRA"]
    assert d["summary"]["p50"]["n"] == 6 and d["skipped"] == {
        "CC": "no city in the customer table and no outline in the worldview"
    }
    assert [g["id"] for g in d["inferred_gateways"]] == ["inferred-jhngzaf1"]
    assert d["inferred_gateways"][0]["inferred"] is True
    code, out, err = run(
        capsys, "links", "validate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW,
        "--plot", str(tmp_path / "s.png"),
    )  # fmt: skip
    assert code == 0, err
    assert "p50: MAE" in out and "left out CC" in out and "inferred gateways" in out
    assert (tmp_path / "s.png").exists()


def test_validate_errors_are_one_line(capsys, tmp_path):
    code, out, err = run(
        capsys, "links", "validate", "--metrics", str(tmp_path / "nope.csv"), *FILES
    )
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "no such file" in err
    code, _, err = run(capsys, "links", "validate", "--metrics", str(DATA / "metrics.csv"), *WINDOW)
    assert code == 1 and "--gateways FILE" in err and err.strip().count("\n") == 0


def test_calibrate_cli(capsys, tmp_path):
    out = tmp_path / "m.json"
    d = run_json(
        capsys, "links", "calibrate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW,
        "--out", str(out), "--name", "fixture", "--version", "3", "--folds", "3",
        "--infer-radii", "off,300", "--route-factors", "1.3", "--hop-delays", "0",
    )  # fmt: skip
    assert d["out"] == str(out) and d["model"]["name"] == "fixture"
    m = load_latency_model(out)
    assert m.label == "fixture@3" and m.cross_validation["folds"] == 3
    assert m.fitted_on["grid"]["infer_radius_km"] == [None, 300.0]
    code, _, err = run(
        capsys, "links", "calibrate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW,
        "--out", str(tmp_path / "x.json"), "--route-factors", "fast",
    )  # fmt: skip
    assert code == 1 and "--route-factors 'fast'" in err and err.strip().count("\n") == 0
    code, _, err = run(
        capsys, "links", "calibrate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW,
        "--out", str(tmp_path / "x.json"), "--folds", "3", "--repeats", "0",
    )  # fmt: skip
    assert code == 1 and "--repeats must be a whole number within 1..20" in err
    assert err.strip().count("\n") == 0 and not (tmp_path / "x.json").exists()


def test_calibrate_cli_repeated_cross_validation(capsys, tmp_path):
    out = tmp_path / "m.json"
    args = (
        "links", "calibrate", "--metrics", str(DATA / "metrics.csv"), *FILES, *WINDOW,
        "--folds", "3", "--infer-radii", "300", "--route-factors", "1.3", "--hop-delays", "0",
        "--gateway-masks", "25", "--seed", "4", "--repeats", "2",
    )  # fmt: skip
    d = run_json(capsys, *args, "--out", str(out))
    rep = load_latency_model(out).cross_validation["repeats"]
    assert rep["seeds"] == [4, 5] and rep["folds"] == 3
    # the first assignment is the one the file's own figures come from (--seed 4)
    first = d["model"]["cross_validation"]["scores"]["p50"]["mae_ms"]
    assert rep["p50"]["mae_ms"][0] == pytest.approx(first)
    assert rep["p50"]["mean_mae_ms"] == pytest.approx(sum(rep["p50"]["mae_ms"]) / 2, abs=1e-3)
    code, text, _ = run(capsys, *args, "--out", str(tmp_path / "h.json"))
    assert code == 0 and "3-fold CV p50 over 2 fold assignments (seeds 4..5): MAE mean" in text


def terminal(capsys, *extra):
    return run_json(
        capsys, "links", "terminal", "-25.746", "28.188", "--duration", "2m", "--start", START,
        *FILES, *extra,
    )  # fmt: skip


def test_terminal_percentiles_and_inferred_gateway(capsys):
    d = terminal(capsys)
    assert d["latency_model"].startswith("starlink-2026-03")
    assert d["rtt_p20_ms"] < d["rtt_p50_ms"] < d["rtt_p80_ms"]
    # Pretoria is homed on Johannesburg, where only an inferred gateway stands
    assert d["inferred_gateways"] == ["inferred-jhngzaf1"]
    assert any(s["gateway_inferred"] for s in d["slots"])
    off = terminal(capsys, "--no-infer-gateways")
    assert off["inferred_gateways"] == [] and not any(s["gateway_inferred"] for s in off["slots"])
    assert off["rtt_p50_ms"] > d["rtt_p50_ms"] + 40.0


def test_terminal_latency_models(capsys):
    none = terminal(capsys, "--latency-model", "none")
    hyp = terminal(capsys, "--latency-model", "hypatia")
    assert none["latency_model"] == "none@1" and hyp["latency_model"] == "hypatia@1"
    # no inference in either, same routes: the only difference is the 4-ms overhead
    for a, b in zip(none["slots"], hyp["slots"], strict=True):
        assert a["sat"] == b["sat"] and a["gateway"] == b["gateway"]
        assert a["rtt_ms"] - b["rtt_ms"] == pytest.approx(4.0)
    rtts = [s["rtt_ms"] for s in none["slots"]]
    # no scheduling spread: the percentiles are the slots' own
    for key, p in (("rtt_p20_ms", 0.2), ("rtt_p50_ms", 0.5), ("rtt_p80_ms", 0.8)):
        assert none[key] == pytest.approx(float(np.quantile(rtts, p, method="inverted_cdf")))
    code, _, err = run(capsys, "links", "terminal", "0", "0", "--latency-model", "nope.json")
    assert code == 1 and "neither a built-in model" in err


def test_rtt_hypatia_model_is_the_propagation_delay(capsys):
    args = ["links", "rtt", "--from", "London", "--to", "40.71,-74.0", "--start", START]
    hyp = run_json(capsys, *args, "--latency-model", "hypatia")
    assert hyp["mesh_rtt_ms"] > 0
    for k in ("rtt_p20_ms", "rtt_p50_ms", "rtt_p80_ms"):
        assert hyp[k] == hyp["mesh_rtt_ms"]
    cal = run_json(capsys, *args)
    m = load_latency_model()
    assert cal["mesh_rtt_ms"] == hyp["mesh_rtt_ms"]
    floor = cal["mesh_rtt_ms"] + m.latency.overhead_ms + cal["laser_hops"] * m.latency.laser_hop_ms
    assert floor < cal["rtt_p20_ms"] < cal["rtt_p50_ms"] < cal["rtt_p80_ms"]
    # two dishes' median delays, give or take the skew of the sum
    assert cal["rtt_p50_ms"] - floor == pytest.approx(2 * m.latency.scheduling.median_ms, rel=0.15)
    assert cal["fibre_rtt_ms"] < hyp["fibre_rtt_ms"]  # calibrated route factor 1.3 < 1.5


def test_coverage_marks_inferred_gateways(capsys):
    args = ["coverage", "BW", *FILES, "--start", START, "--window", "0s", "--res", "3"]
    d = run_json(capsys, *args)
    assert d["latency_model"].startswith("starlink-2026-03")
    assert d["inferred_gateways"] == ["inferred-jhngzaf1"]
    rows = {g["id"]: g for g in d["gateways_used"]}
    assert rows["inferred-jhngzaf1"]["inferred"] is True
    assert all(not g["inferred"] for i, g in rows.items() if i != "inferred-jhngzaf1")
    off = run_json(capsys, *args, "--no-infer-gateways", "--latency-model", "none")
    assert off["inferred_gateways"] == [] and off["latency_model"] == "none@1"
    assert all(not g["inferred"] for g in off["gateways_used"])
    assert off["summary"]["rtt_p50_ms"] > d["summary"]["rtt_p50_ms"] + 30.0


def test_whatif_reports_inferred_gateways_apart_and_none_inside_the_region(capsys, tmp_path):
    common = [*FILES, "--start", START, "--window", "0s", "--res", "3", "--no-in-country"]
    bw = run_json(capsys, "whatif", "activate", "BW", *common, "--out", str(tmp_path / "bw"))
    assert bw["setup"]["latency_model"].startswith("starlink-2026-03")
    assert bw["setup"]["inferred_gateways"] == 1 and "+ 1 inferred" in bw["setup"]["gateways"]
    used = {g["id"]: g for g in bw["gateways_used"]}
    assert used["inferred-jhngzaf1"]["inferred"] and "inferred" in used["inferred-jhngzaf1"]["name"]
    assert any("inferred" in n for n in bw["notes"])
    # switching on South Africa: Johannesburg is inside the region, so nothing is inferred there
    za = run_json(capsys, "whatif", "activate", "ZA", *common, "--out", str(tmp_path / "za"))
    assert za["setup"]["inferred_gateways"] == 0
    assert not any(g["inferred"] for g in za["gateways_used"])
