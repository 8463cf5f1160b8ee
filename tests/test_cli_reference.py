"""Docs match the code: the CLI reference is current and every setting is documented."""

import importlib.util
from pathlib import Path

from skyfence.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", REPO / "scripts" / "gen_cli_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current():
    expected = _generator().render()
    actual = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py"


def test_every_command_has_help_text():
    text = _generator().render()
    blocks = text.split("\n## ")[1:] + text.split("\n### ")[1:]
    for block in blocks:
        title, _, rest = block.partition("\n")
        assert rest.strip() and not rest.strip().startswith("|"), f"{title} has no help text"


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"SKYFENCE_{name.upper()}" in readme, name
