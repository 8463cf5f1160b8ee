"""One doctest set-up for all of ``src``: the ``Examples`` in every module's docstrings run as
written, in a temporary working directory and data directory, with the same option flags.

A module whose import needs an optional extra that is not installed is skipped with the extra
named (the test command installs every extra the examples need).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import skyfence
from skyfence.errors import DependencyError

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
OPTIONAL = {"fastapi", "uvicorn", "starlette", "httpx", "dask", "distributed"}


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(skyfence.__path__, "skyfence.")]
    return sorted(["skyfence", *(n for n in names if ".migrations" not in n)])


MODULES = _modules()


def test_every_module_is_found() -> None:
    files = {p for p in Path(skyfence.__file__).parent.rglob("*.py") if "migrations" not in p.parts}
    assert len(MODULES) == len(files)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    try:
        module = importlib.import_module(name)
    except DependencyError as exc:
        pytest.skip(f"{name}: {exc}")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in OPTIONAL:
            raise
        pytest.skip(f"{name} needs the optional package {exc.name!r}")
    result = doctest.testmod(module, optionflags=FLAGS, report=True)
    assert result.failed == 0
