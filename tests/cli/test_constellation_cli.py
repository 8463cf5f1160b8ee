"""``skyfence constellation ...`` and ``skyfence demo`` run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from skyfence.cli.main import main
from skyfence.orbits import Ephemeris

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"


@pytest.fixture(scope="module")
def small_tle(starlink_tle, tmp_path_factory):
    """The first 300 objects of the real snapshot as a 3LE file."""
    lines = starlink_tle.read_text().splitlines()[: 3 * 300]
    path = tmp_path_factory.mktemp("tle") / "small.tle"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_presets_json(capsys):
    assert main(["constellation", "presets", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {p["name"]: p for p in data}
    assert by_name["starlink-gen1"]["satellites"] == 4408
    assert by_name["kuiper"]["satellites"] == 3236
    assert "Bassa" in by_name["starlink-gen1"]["source"]
    assert [s["planes"] for s in by_name["kuiper"]["shells"]] == [34, 36, 28]


def test_presets_table(capsys):
    assert main(["constellation", "presets"]) == 0
    out = capsys.readouterr().out
    assert "starlink-gen1" in out and "4,408" in out


def test_describe_preset_json(capsys):
    assert main(["constellation", "describe", "--preset", "starlink-gen1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["satellites"] == 4408
    assert [s["planes"] for s in data["shells"]] == [72, 72, 36, 6, 4]
    assert data["status"]["operational"] == 4408


def test_describe_real_file(capsys, starlink_tle):
    assert main(["constellation", "describe", str(starlink_tle), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["satellites"] == 9543
    incs = {round(s["inclination_deg"]) for s in data["shells"] if s["inclination_deg"]}
    assert {43, 53, 70, 98} <= incs
    assert data["status"]["decaying"] + data["status"]["raising"] > 100
    assert main(["constellation", "describe", str(starlink_tle)]) == 0
    out = capsys.readouterr().out
    assert "(none)" in out and "oper" in out


def test_propagate_preset_to_npz_with_progress_bar(capsys, tmp_path):
    out = tmp_path / "k.npz"
    code = main(
        [
            "constellation",
            "propagate",
            "--preset",
            "kuiper",
            "--start",
            "2026-02-22T00:00:00Z",
            "--duration",
            "2m",
            "--step",
            "30s",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "propagating" in captured.err  # the progress bar is on stderr
    assert "3,236 satellites × 5 steps" in " ".join(captured.out.split())
    eph = Ephemeris.from_npz(out)
    assert eph.shape == (3236, 5)
    assert eph.times[0] == np.datetime64("2026-02-22T00:00:00", "ns")
    r = np.linalg.norm(eph.positions_ecef_km, axis=-1) - 6378.137
    assert 580 < r.min() and r.max() < 650


def test_propagate_file_to_parquet_json_float32_workers(capsys, tmp_path, small_tle):
    out = tmp_path / "s.parquet"
    code = main(
        [
            "constellation",
            "propagate",
            str(small_tle),
            "--duration",
            "1m",
            "--step",
            "15s",
            "--out",
            str(out),
            "--float32",
            "--workers",
            "2",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["satellites"] == 300 and data["steps"] == 5
    assert data["dtype"] == "float32" and data["workers"] == 2
    table = pq.read_table(out)
    assert table.num_rows == 1500
    alt = np.array(table.column("altitude_km").to_pylist(), dtype=float)
    assert np.nanmin(alt) > 150 and np.nanmax(alt) < 700


def test_propagate_to_csv(capsys, tmp_path):
    out = tmp_path / "k.csv"
    assert (
        main(
            [
                "constellation",
                "propagate",
                "--preset",
                "kuiper",
                "--duration",
                "0s",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    lines = out.read_text().splitlines()
    assert lines[0].startswith('"time","norad_id","name"')
    assert len(lines) == 1 + 3236


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "kuiper", "--step", "soon", "--out", "x.npz"], "cannot read duration"),
        (["--preset", "nope", "--out", "x.npz"], "kuiper, starlink-gen1"),
        (["--preset", "kuiper", "--out", "x.txt"], ".npz, .parquet, .csv"),
        (["--out", "x.npz"], "FILE or --preset"),
        (["no/such/file.tle", "--out", "x.npz"], "does not exist"),
        (["--preset", "kuiper", "--start", "yesterday", "--out", "x.npz"], "cannot read time"),
    ],
)
def test_propagate_bad_input_is_one_line_exit_1(capsys, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["constellation", "propagate", *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: ") and err.count("\n") == 1
    assert message in err


def test_convert_round_trip(capsys, tmp_path, small_tle):
    out = tmp_path / "small.json"
    assert main(["constellation", "convert", str(small_tle), str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["satellites"] == 300
    records = json.loads(out.read_text())
    assert len(records) == 300
    assert main(["constellation", "describe", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["satellites"] == 300


def test_demo_json_is_fast_and_honest(capsys, tmp_path):
    assert (
        main(["demo", "--json", "--duration", "10m", "--step", "1m", "--out", str(tmp_path / "r")])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["constellation"]["satellites"] == 4408
    run = data["propagation"]
    assert run["satellites"] == 4408 and run["steps"] == 11
    assert run["failed_sat_steps"] == 0
    for shell in run["shells"]:
        assert abs(shell["difference_km"]) < 1.0
    assert len(run["subpoints"]) == 5
    assert all(-90 <= p["latitude_deg"] <= 90 for p in run["subpoints"])
    whatif = data["whatif"]
    assert whatif["action"] == "activate" and whatif["region"]["id"] == "TW"
    assert whatif["window"]["steps"] == 11
    assert (tmp_path / "r" / "report.html").exists()


@pytest.mark.slow
def test_demo_default_human_output(capsys, tmp_path):
    """The README's main job on its defaults: Gen1, then the 1-hour Taiwan what-if report."""
    assert main(["demo", "--out", str(tmp_path / "tw")]) == 0
    captured = capsys.readouterr()
    out = " ".join(captured.out.split())
    assert "Mean altitude per shell vs filed" in out
    assert "4,408 satellites × 241 steps" in out
    assert "Activate TW" in out and "traffic lands abroad" in out
    assert "propagating" in captured.err and "activate TW" in captured.err
    report = json.loads((tmp_path / "tw" / "report.json").read_text())
    assert report["window"]["steps"] == 241 and report["after"]["served_fraction"] > 0.9


def test_demo_bad_preset(capsys):
    assert main(["demo", "--preset", "iridium"]) == 1
    assert "choose one of" in capsys.readouterr().err


# ---------------------------------------------------------------- --skip-invalid


@pytest.fixture()
def one_bad_checksum(tmp_path):
    """The golden 4-satellite 3LE with line 2 of the first record's checksum broken."""
    lines = (GOLDEN / "starlink-4.3le").read_text().splitlines()
    good = lines[1][68]
    lines[1] = lines[1][:68] + str((int(good) + 1) % 10)
    path = tmp_path / "bad.3le"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("command", ["describe", "propagate", "convert"])
def test_a_bad_record_names_the_cli_flag_not_the_python_argument(
    capsys, tmp_path, one_bad_checksum, command
):
    args = {
        "describe": ["describe", str(one_bad_checksum)],
        "propagate": ["propagate", str(one_bad_checksum), "--out", str(tmp_path / "e.npz")],
        "convert": ["convert", str(one_bad_checksum), str(tmp_path / "c.json")],
    }[command]
    assert main(["constellation", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.3le line 2: checksum is" in err
    assert "pass --skip-invalid" in err and "on_invalid" not in err
    assert not (tmp_path / "e.npz").exists() and not (tmp_path / "c.json").exists()


@pytest.mark.parametrize("command", ["describe", "propagate", "convert"])
def test_skip_invalid_reports_what_was_skipped(capsys, tmp_path, one_bad_checksum, command):
    args = {
        "describe": ["describe", str(one_bad_checksum)],
        "propagate": [
            "propagate",
            str(one_bad_checksum),
            "--out",
            str(tmp_path / "e.npz"),
            "--duration",
            "1m",
        ],
        "convert": ["convert", str(one_bad_checksum), str(tmp_path / "c.json")],
    }[command]
    assert main(["constellation", *args, "--skip-invalid", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["invalid_skipped"] == 1 and data["duplicates_dropped"] == 0
    (skipped,) = data["skipped"]
    assert skipped["line"] == 2 and skipped["record"] == 1 and skipped["norad_id"] == 44714
    assert skipped["reason"].startswith("checksum is")
    assert main(["constellation", *args, "--skip-invalid"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "skipped 1 invalid element-set record: line 2 (NORAD 44714): checksum is" in out


def test_a_problem_with_the_whole_file_has_no_skip_hint(capsys, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    assert main(["constellation", "describe", str(path), "--skip-invalid"]) == 1
    err = capsys.readouterr().err
    assert "cannot tell the format" in err and "--skip-invalid" not in err


def test_one_loader_for_every_command(one_bad_checksum, tmp_path, capsys):
    # every command that reads element sets goes through app.network.load_constellation;
    # the library's hint names on_invalid, the CLI's names --skip-invalid
    from skyfence.app import App
    from skyfence.app.network import load_constellation
    from skyfence.errors import NotFoundError, ParseError
    from skyfence.settings import load_settings

    app = App(load_settings(data_dir=tmp_path))
    assert len(load_constellation(app, "kuiper")) == 3236
    assert len(load_constellation(app, " Starlink-Gen1 ")) == 4408
    with pytest.raises(ParseError, match="pass on_invalid='skip'$"):
        load_constellation(app, str(one_bad_checksum))
    c = load_constellation(app, one_bad_checksum, skip_invalid=True, cluster=False)
    assert len(c) == 3 and len(c.elements.skipped) == 1
    with pytest.raises(NotFoundError, match="neither a preset"):
        load_constellation(app, "iridium")
    for args in (
        ["constellation", "describe", str(one_bad_checksum)],
        ["links", "visible", "10", "-20", "--constellation", str(one_bad_checksum)],
        ["links", "terminal", "10", "-20", "--duration", "1m", "--constellation",
         str(one_bad_checksum)],
    ):  # fmt: skip
        assert main(args) == 1
        err = capsys.readouterr().err
        assert err.strip().endswith("pass --skip-invalid") and "on_invalid" not in err, args
        assert main([*args, "--skip-invalid", "--json"]) == 0, capsys.readouterr().err
        capsys.readouterr()


# ---------------------------------------------------------------- propagate: size and path


def test_a_huge_output_is_refused_before_any_work_without_yes(capsys, tmp_path):
    out = tmp_path / "month.parquet"
    args = ["constellation", "propagate", "--preset", "starlink-gen1", "--out", str(out)]
    assert main([*args, "--duration", "30d", "--step", "1s"]) == 1
    captured = capsys.readouterr()
    # 4,408 satellites x 2,592,001 steps x 55 bytes per sat-step (Parquet, float64)
    assert "would be about 628.4 GB (4,408 satellites × 2,592,001 steps)" in captured.err
    assert "pass --yes" in captured.err and captured.err.count("\n") == 1
    assert "propagating" not in captured.err and not out.exists()


def test_large_output_asks_on_a_terminal_and_yes_skips_the_question(capsys, tmp_path, monkeypatch):
    from skyfence.cli import constellation as cli

    monkeypatch.setattr(cli, "LARGE_OUTPUT_BYTES", 1000)  # so that a small run counts as large
    out = tmp_path / "k.npz"
    args = [
        "constellation",
        "propagate",
        "--preset",
        "kuiper",
        "--duration",
        "1m",
        "--out",
        str(out),
    ]
    asked = []
    monkeypatch.setattr(cli, "_interactive", lambda: True)
    monkeypatch.setattr(cli.typer, "confirm", lambda text, **kw: asked.append(text) or False)
    assert main(args) == 1
    assert "nothing written (answered no)" in capsys.readouterr().err and not out.exists()
    assert "would be about 0.0 GB (3,236 satellites × 5 steps). Write it?" in asked[0]
    monkeypatch.setattr(cli.typer, "confirm", lambda text, **kw: True)
    assert main(args) == 0 and out.exists()
    out.unlink()
    monkeypatch.setattr(cli, "_interactive", lambda: False)
    assert main(args) == 1 and "pass --yes" in capsys.readouterr().err
    assert main([*args, "--yes", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bytes_estimated"] == 23 * 3236 * 5  # npz, float64
    assert abs(data["bytes_written"] - data["bytes_estimated"]) < 0.2 * data["bytes_estimated"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing/e.npz", "does not exist"),
        ("a-file.txt/e.npz", "'a-file.txt' is not a directory"),
        ("a-dir", "it is a directory"),
        ("/sys/e.npz", "is not writable"),
    ],
)
def test_output_path_is_checked_before_any_work(capsys, tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file.txt").write_text("x")
    (tmp_path / "a-dir.npz").mkdir()
    target = "a-dir.npz" if target == "a-dir" else target
    if target.startswith("/sys") and not Path("/sys").is_dir():
        pytest.skip("no /sys on this system")
    args = ["constellation", "propagate", "--preset", "starlink-gen1", "--duration", "1d"]
    assert main([*args, "--out", target]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and "propagating" not in captured.err


def test_propagate_interpolated_matches_plain_sgp4_within_the_tolerance(capsys, tmp_path):
    common = ["constellation", "propagate", "--preset", "kuiper", "--duration", "2h"]
    common += ["--start", "2026-02-22T00:00:00Z", "--step", "15s", "--json"]
    assert main([*common, "--out", str(tmp_path / "exact.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["interpolated"] is False
    args = [*common, "--out", str(tmp_path / "fast.npz"), "--interpolate", "--tolerance-m", "5"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["interpolated"] is True and data["tolerance_m"] == 5.0
    exact = Ephemeris.from_npz(tmp_path / "exact.npz")
    fast = Ephemeris.from_npz(tmp_path / "fast.npz")
    err_m = np.linalg.norm(fast.positions_ecef_km - exact.positions_ecef_km, axis=-1) * 1e3
    assert 0.0 < err_m.max() < 5.0
    assert main([*args[:-1], "-3"]) == 1
    assert "--tolerance-m must be a positive number" in capsys.readouterr().err
