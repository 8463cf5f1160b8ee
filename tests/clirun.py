"""Drive the real CLI in-process, as a user's shell would, for the CLI tests.

``run`` returns ``(exit code, stdout, stderr)``; ``run_json`` adds ``--json``, requires exit 0
and returns the parsed output.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyfence.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)
