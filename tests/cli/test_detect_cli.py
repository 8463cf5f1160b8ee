"""`skyfence detect simulate|run|impact`, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import run, run_json
from skyfence.policy import example_text


@pytest.fixture()
def scenario(tmp_path, capsys, isolated_env):
    out = tmp_path / "t.parquet"
    data = run_json(
        capsys,
        "detect",
        "simulate",
        "--seed",
        "3",
        "--terminal-count",
        "40",
        "--days",
        "2",
        "--start",
        "2026-01-31T00:00:00Z",
        "--out",
        str(out),
    )
    return data["files"]


def test_simulate_then_run(scenario, capsys, tmp_path):
    assert set(scenario) == {"telemetry", "terminals", "policy"}
    gj = tmp_path / "f.geojson"
    d = run_json(
        capsys,
        "detect",
        "run",
        scenario["telemetry"],
        "--policy",
        scenario["policy"],
        "--terminals",
        scenario["terminals"],
        "--geojson",
        str(gj),
        "--truth-column",
        "label",
    )
    assert d["rows"] > 1000 and d["findings"] and d["files"]["geojson"] == str(gj)
    scores = [f["score"] for f in d["findings"]]
    assert scores == sorted(scores, reverse=True)
    assert set(d["counts"]) == {
        "service-area",
        "speed",
        "altitude",
        "impossible-travel",
        "roaming",
        "dark-gap",
        "unregistered-cluster",
        "border-shuttle",
    }
    assert d["scores"]["service-area"]["recall"] is not None
    assert json.loads(gj.read_text())["type"] == "FeatureCollection"
    code, out, err = run(
        capsys,
        "detect",
        "run",
        scenario["telemetry"],
        "--policy",
        scenario["policy"],
        "--terminals",
        scenario["terminals"],
        "--top",
        "3",
        "--kind",
        "service-area",
    )
    assert code == 0 and "top 3 findings" in out and "service-area" in out


def test_impact(scenario, capsys, tmp_path):
    faster = tmp_path / "faster.yaml"
    faster.write_text(
        example_text("ukraine-2026").replace("max_speed_kmh: 75", "max_speed_kmh: 120")
    )
    png = tmp_path / "impact.png"
    d = run_json(
        capsys,
        "detect",
        "impact",
        scenario["telemetry"],
        "--policy",
        scenario["policy"],
        "--policy",
        str(faster),
        "--terminals",
        scenario["terminals"],
        "--png",
        str(png),
        "--truth-column",
        "label",
    )
    names = [c["name"] for c in d["candidates"]]
    assert names == [scenario["policy"], str(faster)]
    assert d["candidates"][1]["denied_reports"] <= d["candidates"][0]["denied_reports"]
    assert d["truth_misuse_terminals"] > 0 and png.read_bytes()[:4] == b"\x89PNG"
    code, out, _ = run(
        capsys,
        "detect",
        "impact",
        scenario["telemetry"],
        "--policy",
        scenario["policy"],
        "--terminals",
        scenario["terminals"],
    )
    assert code == 0 and "what each candidate cuts" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["detect", "run", "nope.csv", "--policy", "p.yaml"], "policy file p.yaml does not exist"),
        (["detect", "simulate", "--out", "x.xlsx"], "cannot tell the format of x.xlsx"),
        (["detect", "simulate", "--out", "x.parquet", "--scenario", "mars"], "scenario 'mars'"),
        (["detect", "simulate", "--out", "/proc/x.parquet"], "cannot write in /proc"),
    ],
)
def test_errors_are_one_line(capsys, tmp_path, monkeypatch, isolated_env, args, message):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "option,target,message",
    [
        ("--png", "/proc/x.png", "--png /proc/x.png: cannot write in /proc"),
        ("--geojson", "{tmp}/f.txt/x.geojson", "f.txt is not a directory"),
        ("--png", "{tmp}/x.jpg", "use a file name ending in .png"),
    ],
)
def test_unwritable_outputs_are_refused_before_the_work(
    scenario, capsys, tmp_path, option, target, message
):
    """Root may write anywhere by its permission bits, but not in /proc: the place is tried."""
    if target.startswith("/proc") and not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    (tmp_path / "f.txt").write_text("a file, not a directory")
    args = ["detect", "run", scenario["telemetry"], "--policy", scenario["policy"]]
    code, out, err = run(capsys, *args, option, target.format(tmp=tmp_path))
    assert code == 1 and message in err and err.count("\n") == 1, err
    assert out == ""  # no table: no work was done


def test_a_bad_row_is_named_by_its_line(capsys, tmp_path, isolated_env):
    p = tmp_path / "t.csv"
    p.write_text(
        "terminal_id,time,latitude_deg,longitude_deg\n"
        "a,2026-02-01T00:00:00Z,50.4,30.5\n"
        "a,2026-02-01T00:05:00Z,north,30.5\n"
    )
    pol = tmp_path / "p.yaml"
    pol.write_text(example_text("ukraine-2026"))
    terms = tmp_path / "terms.csv"
    terms.write_text("id,country,plan\na,UA,fixed\n")
    code, _, err = run(
        capsys, "detect", "run", str(p), "--policy", str(pol), "--terminals", str(terms)
    )
    assert code == 1 and "t.csv line 3: latitude_deg 'north' is not a number" in err
    d = run_json(
        capsys,
        "detect",
        "run",
        str(p),
        "--policy",
        str(pol),
        "--terminals",
        str(terms),
        "--on-invalid",
        "skip",
    )
    assert d["rejected_rows"] == 1 and d["rejected"] == [
        "line 3: latitude_deg 'north' is not a number"
    ]
