"""docs/detect.md: its Python example runs, every command and finding kind is documented."""

from __future__ import annotations

import re
from pathlib import Path

from skyfence.detect import KINDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "detect.md"


def test_python_example_runs():
    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    ns: dict = {}
    exec(compile(block, str(DOC), "exec"), ns)
    assert ns["report"].findings and set(ns["scores"]) == set(KINDS)
    assert {f.kind for f in ns["only_speed"].findings} == {"speed"}


def test_every_command_and_kind_is_documented():
    from typer.main import get_command

    from skyfence.cli.detect import app

    text = DOC.read_text(encoding="utf-8")
    for name in get_command(app).commands:  # type: ignore[attr-defined]
        assert f"skyfence detect {name}" in text, name
    for kind in KINDS:
        assert f"| `{kind}` |" in text, kind
