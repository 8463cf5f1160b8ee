"""Conventions every command shares, whichever module defines it (applied in cli/main.py).

Negative coordinates are typed as people type them; a typo'd option is still an error; usage
errors are one line with exit code 1; ``--help`` is clean text.
"""

from __future__ import annotations

import json

import pytest
import typer

from clirun import run
from skyfence.cli.main import build_app
from skyfence.policy import example_text

START = "2026-02-22T12:00:00Z"


@pytest.fixture()
def gateway_file(tmp_path):
    gw = tmp_path / "gw.csv"
    gw.write_text(
        "name,country,latitude_deg,longitude_deg\nNY-GW,US,40.8,-73.9\nDC-GW,US,38.9,-77.0\n"
    )
    return gw


def test_links_terminal_takes_negative_longitude(capsys, gateway_file):
    code, out, err = run(
        capsys, "links", "terminal", "40.7", "-74.0", "--duration", "1m", "--start", START,
        "--gateways", str(gateway_file), "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert (data["latitude_deg"], data["longitude_deg"]) == (40.7, -74.0)
    assert len(data["slots"]) == 5


def test_links_visible_takes_negative_latitude_and_longitude(capsys):
    code, out, err = run(
        capsys, "links", "visible", "-33.87", "-70.6", "--time", START, "--json"
    )  # Santiago de Chile
    assert code == 0, err
    data = json.loads(out)
    assert (data["latitude_deg"], data["longitude_deg"]) == (-33.87, -70.6)
    assert data["count"] > 0


def test_region_lookup_takes_negative_coordinates(capsys):
    code, out, err = run(capsys, "region", "lookup", "-34.6", "-58.4", "--json")  # Buenos Aires
    assert code == 0, err
    assert json.loads(out)["country"] == "AR"


@pytest.fixture()
def policy_files(tmp_path):
    ua = tmp_path / "ua.yaml"
    ua.write_text(example_text("ukraine-2026"))
    terms = tmp_path / "terms.csv"
    terms.write_text("id,country,plan,whitelists,speed_exempt\nW1,UA,fixed,UA,false\n")
    return ["--policy", str(ua), "--terminals", str(terms)]


def test_decide_takes_negative_coordinates_and_refuses_typos(capsys, policy_files):
    code, out, err = run(
        capsys, "decide", "-22.9", "-43.2", "--terminal", "W1", *policy_files, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["country"] == "BR"
    code, _, err = run(capsys, "decide", "-22.9", "-43.2", "--terminl", "W1", *policy_files)
    assert code == 1
    assert err.startswith("skyfence: error: No such option: --terminl") and err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["links", "terminal", "40.7", "-74.0", "--duraton", "1m"],
        ["links", "visible", "40.7", "-74.0", "--jsn"],
        ["region", "lookup", "-34.6", "-58.4", "-x"],
        ["whatif", "activate", "TW", "--windw", "1m"],
    ],
)
def test_a_typo_in_an_option_is_still_an_error(capsys, args):
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.startswith("skyfence: error: No such option:") and err.count("\n") == 1
    assert f"see 'skyfence {' '.join(args[:2])} --help'" in err


def test_an_option_value_may_be_negative(capsys):
    # the value after an option is taken as is, negative or not
    code, out, err = run(
        capsys, "links", "rtt", "--from", "-33.87,-70.6", "--to", "-34.6,-58.4",
        "--start", START, "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["from"] == "-33.8700,-70.6000"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["links", "visible", "abc", "0"], "Invalid value for 'LAT'"),
        (["links", "visible", "10"], "Missing argument 'LON'"),
        (["region", "show"], "Missing argument 'EXPRESSION'"),
        (["whatif", "activate", "TW", "--res", "five"], "Invalid value for '--res'"),
        (["nosuchcommand"], "No such command 'nosuchcommand'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_1(capsys, args, message):
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.startswith("skyfence: error: ") and err.count("\n") == 1
    assert message in err


def _command_paths(command, path=()):
    subcommands = getattr(command, "commands", None)
    yield list(path)
    if subcommands:
        for name, sub in sorted(subcommands.items()):
            yield from _command_paths(sub, (*path, name))


def test_help_of_every_command_is_clean_text(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    paths = list(_command_paths(typer.main.get_command(build_app())))
    assert len(paths) > 30
    for path in paths:
        code, out, err = run(capsys, *path, "--help")
        assert code == 0, (path, err)
        assert "Usage: skyfence" in out
        assert "<bool>" not in out, f"skyfence {' '.join(path)} --help shows <bool>"
        assert "``" not in out and ":func:" not in out, f"RST in skyfence {' '.join(path)} --help"
    code, out, _ = run(capsys, "links", "terminal", "--help")
    assert "--json" in out and "Print machine-readable JSON" in out
    assert "{LAT} {LON}" in out
