"""docs/store.md and docs/log.md: their Python examples run, and the module doctests pass."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import skyfence.store.canonical
import skyfence.store.merkle
import skyfence.store.store

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _python_blocks(name: str) -> list[str]:
    text = (DOCS / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("name", ["store.md", "log.md"])
def test_doc_examples_run(name, capsys):
    blocks = _python_blocks(name)
    assert blocks, f"{name} has no python example"
    for block in blocks:
        exec(compile(block, str(DOCS / name), "exec"), {"__name__": "__doc_example__"})


@pytest.mark.parametrize(
    "module", [skyfence.store.merkle, skyfence.store.canonical, skyfence.store.store]
)
def test_module_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_every_log_command_is_documented():
    from skyfence.cli.log import app

    text = (DOCS / "log.md").read_text(encoding="utf-8")
    for command in app.registered_commands:
        assert f"skyfence log {command.name}" in text
