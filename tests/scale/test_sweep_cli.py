"""``skyfence coverage world`` / ``coverage REGION --sweep`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from skyfence.cli.main import main

REGION = "h3:4:841fa3dffffffff"
SMALL = ["--window", "2m", "--step", "60s", "--block-cells", "10"]


def test_a_sweep_from_the_cli_writes_its_files_and_resumes(capsys, tmp_path):
    out = tmp_path / "sweep"
    args = ["coverage", REGION, "--sweep", *SMALL, "--out", str(out), "--json"]
    assert main([*args, "--max-shards", "1"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["shards"] == {"total": 2, "resumed": 0, "run": 1}
    assert first["summary"] == {"complete": False, "shards_left": 1}
    assert main(args) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["shards"] == {"total": 2, "resumed": 1, "run": 1}
    assert d["summary"]["complete"] and d["summary"]["cells"] == 19
    assert sorted(p.name for p in out.iterdir()) == [
        "cells.npy", "day.parquet", "hours", "manifest.json", "map.png", "shards", "summary.json"
    ]  # fmt: skip
    assert (
        json.loads((out / "summary.json").read_text())["served_fraction"]
        == (d["summary"]["served_fraction"])
    )


def test_bad_sweep_options_are_one_line_errors_before_any_work(capsys, tmp_path):
    for extra, says in (
        (["--workers", "0"], "--workers must be a whole number >= 1"),
        (["--dask-workers", "0"], "--dask-workers must be a whole number >= 1"),
        (["--window", "10s"], "must be at least one --step"),
    ):
        code = main(["coverage", "world", *SMALL, *extra, "--out", str(tmp_path / "w")])
        err = capsys.readouterr().err
        assert code == 1 and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "w").exists()


def test_an_out_that_cannot_be_written_is_refused_before_any_work(capsys, tmp_path):
    """A sweep's --out is tried for writing before the cells and the network are built: a
    read-only place or a file is a one-line error, not an internal error after the work."""
    afile = tmp_path / "a-file"
    afile.write_text("x")
    cases = [
        (afile, "is a file; a sweep writes a directory"),
        (afile / "w", f"{afile} is not a directory"),
        (Path("/proc/skyfence-no/w"), "cannot write in /proc"),
    ]
    for out, says in cases:
        code = main(["coverage", "world", *SMALL, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 1 and says in err and err.count("\n") == 1, err
        assert "internal error" not in err
