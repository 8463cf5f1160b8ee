"""Helpers every CLI command uses: ``--json`` output, progress bars, shared options.

Conventions
-----------
* Every command that prints results takes ``--json`` (``JsonOption``) and calls :func:`emit`.
* Long work takes a ``progress`` callback ``(done, total) -> None`` in the API; the CLI makes
  one with :func:`progress_bar` (a rich bar on stderr, so ``--json`` on stdout stays clean).
* Errors are raised as :class:`skyfence.errors.SkyfenceError`; ``main`` turns them into one
  line on stderr and exit code 1.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = [
    "JsonOption",
    "console",
    "err_console",
    "emit",
    "to_jsonable",
    "progress_bar",
    "ProgressCallback",
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ProgressCallback = Callable[[int, int], None]

console = Console()
err_console = Console(stderr=True)


def to_jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, datetimes, dataclasses and paths into JSON-able values.

    NaN and infinities become ``None`` so the output is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return (
            [to_jsonable(v) for v in obj.tolist()]
            if obj.dtype.kind != "M"
            else [to_jsonable(v) for v in obj]
        )
    if isinstance(obj, np.datetime64):
        from skyfence.timeutil import datetime64_to_iso

        return datetime64_to_iso(obj)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON (``as_json``) or via ``human(data)`` (rich tables and text)."""
    if as_json or human is None:
        typer.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))
    else:
        human(data)


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr; yields a callback ``(done, total)`` to feed it."""
    if not enabled:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
