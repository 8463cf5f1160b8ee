"""docs/whatif.md says what the code does: the numbers, names and options it quotes."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM
from skyfence.analysis.gateways import IN_COUNTRY_RADIUS_KM, PLAN_RADIUS_KM
from skyfence.analysis.maps import SERVED_CLASSES
from skyfence.analysis.report import REPORT_FILES, report_dirname
from skyfence.cli.main import build_app
from skyfence.links import DEFAULT_RULE

DOC = (Path(__file__).resolve().parents[2] / "docs" / "whatif.md").read_text(encoding="utf-8")


def test_quoted_constants_match_the_code():
    assert f"`{DEFAULT_RULE}`" in DOC
    assert f"within {PLAN_RADIUS_KM:g} km" in DOC
    assert f"radius ≤ {IN_COUNTRY_RADIUS_KM:g} km" in DOC
    assert f"(default {DEFAULT_FOOTPRINT_KM:g} km" in DOC
    classes = ", ".join(label for _, label in SERVED_CLASSES)
    assert classes in DOC.replace("\n  ", " ")
    for name in REPORT_FILES:
        assert f"`{name}`" in DOC


def test_the_default_folder_pattern_is_the_one_written():
    name = report_dirname("activate", "TW", "2026-02-22T12:00:00Z", "20261206T201455Z")
    assert name == "whatif-activate-TW-20260222T1200Z-run-20261206T201455Z"
    assert "whatif-<action>-<region>-<start>-run-<run id>" in DOC


def test_every_option_named_exists():
    root = typer.main.get_command(build_app())
    options = set()
    for cmd in (root.commands["whatif"].commands["activate"], root.commands["coverage"]):
        for p in cmd.params:
            options.update(p.opts)
    named = set(re.findall(r"`(--[a-z-]+)", DOC))
    assert named - {"--rule", "--png"} <= options, named - options
