"""Helpers every CLI command uses: the process's App, ``--json`` output, progress bars, options.

Conventions
-----------
* A command is a thin adapter: it parses its arguments, calls **one** function of
  :mod:`skyfence.app` with the process's :class:`~skyfence.app.App` (:func:`get_app`), and
  prints the typed result.
* :func:`get_app` returns the one ``App`` of this run: :func:`skyfence.cli.main.main` builds
  it (settings read from the environment once) and every command — whichever module defines
  it — gets it from here, so caches such as the worldview are shared::

      from skyfence.cli._common import get_app

      def my_command(...) -> None:
          result = some_operation(get_app(), ...)

* Every command that prints results takes ``--json`` (``JsonOption``) and calls :func:`emit`.
* Long work takes a ``progress`` callback ``(done, total) -> None`` in the app layer; the CLI
  makes one with :func:`progress_bar` (a rich bar on stderr, so ``--json`` on stdout stays
  clean).
* Errors are raised as :class:`skyfence.errors.SkyfenceError`; ``main`` turns them (and usage
  errors) into one line on stderr and exit code 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

from skyfence.jsonable import to_jsonable

if TYPE_CHECKING:
    from skyfence.app import App
    from skyfence.scale.runner import Parallel

__all__ = [
    "ConstellationOpt",
    "DaskWorkersOpt",
    "SchedulerOpt",
    "WorkersOpt",
    "parallel",
    "SkipInvalidOpt",
    "GatewaysOpt",
    "InferGatewaysOpt",
    "JsonOption",
    "LatencyModelOpt",
    "OverwriteOpt",
    "PopMapOpt",
    "PopsOpt",
    "ProgressCallback",
    "ProgressFeed",
    "click_exceptions",
    "console",
    "emit",
    "err_console",
    "get_app",
    "progress_bar",
    "to_jsonable",
    "use_app",
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
OverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace an existing output instead of refusing to."),
]
ConstellationOpt = Annotated[
    str,
    typer.Option(
        "--constellation", help="A preset name (starlink-gen1, kuiper) or an element-set file."
    ),
]
SkipInvalidOpt = Annotated[
    bool,
    typer.Option(
        "--skip-invalid",
        help="Leave invalid records of an element-set file out (they are listed) instead of "
        "stopping at the first.",
    ),
]
GatewaysOpt = Annotated[
    str,
    typer.Option(
        "--gateways", help="Gateway file (CSV/GeoJSON) or 'plan' for skyfence's planning model."
    ),
]
PopsOpt = Annotated[
    Path | None,
    typer.Option("--pops", help="PoP file (CSV/GeoJSON); default: the built-in PoP metros."),
]
PopMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--pop-map", help="CSV mapping places to home PoPs (latitude_deg, longitude_deg, pop)."
    ),
]
LatencyModelOpt = Annotated[
    str | None,
    typer.Option(
        "--latency-model",
        help="Latency model: starlink-2026-03c (the default, fitted to Starlink's published "
        "latency), none (uncalibrated), hypatia (propagation only) or a model file.",
    ),
]
InferGatewaysOpt = Annotated[
    bool,
    typer.Option(
        "--infer-gateways/--no-infer-gateways",
        help="Infer gateways near serving PoPs where the gateway file has none, as the "
        "latency model says (marked 'inferred' in every output).",
    ),
]
WorkersOpt = Annotated[
    int, typer.Option("--workers", help="Run the work in this many local processes.")
]
DaskWorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--dask-workers", help="Run the work on a Dask LocalCluster of this many workers."
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="Run the work on the Dask cluster at this address (tcp://host:8786)."
    ),
]
ProgressCallback = Callable[[int, int], None]

console = Console()
err_console = Console(stderr=True)

_APP: ContextVar[App | None] = ContextVar("skyfence_cli_app", default=None)


def parallel(workers: int, dask_workers: int | None, scheduler: str | None) -> Parallel:
    """Where the work of ``--workers/--dask-workers/--scheduler`` runs (checked before any work)."""
    from skyfence.scale.runner import Parallel

    return Parallel(workers=workers, dask_workers=dask_workers, scheduler=scheduler)


def get_app() -> App:
    """The :class:`~skyfence.app.App` of this CLI run (built on first use if none is set)."""
    app = _APP.get()
    if app is None:
        from skyfence.app import App

        app = App()
        _APP.set(app)
    return app


@contextmanager
def use_app(app: App | None = None) -> Iterator[None]:
    """Make ``app`` (default: a new one, built lazily) the App of the commands run inside."""
    token = _APP.set(app)
    try:
        yield
    finally:
        _APP.reset(token)


def click_exceptions() -> tuple[type[Exception], type[Exception]]:
    """``(ClickException, NoArgsIsHelpError)`` of the Click that Typer runs on."""
    try:  # Typer >= 0.17 ships its own copy of Click
        from typer._click import exceptions  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - older Typer on the separate click package
        from click import exceptions  # type: ignore[no-redef,import-not-found,unused-ignore]
    return exceptions.ClickException, exceptions.NoArgsIsHelpError


def emit(data: Any, as_json: bool, human: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON (``as_json``) or via ``human(data)`` (rich tables and text)."""
    if as_json or human is None:
        typer.echo(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False))
    else:
        human(data)


class ProgressFeed:
    """The callback :func:`progress_bar` yields: ``feed(done, total)`` moves the bar, and
    ``feed.stage(name)`` starts a new bar for the next stage of the work.

    Nothing is drawn until the first ``feed(done, total)``, so an error found before the work
    starts is the only thing on stderr.
    """

    def __init__(self, bar: Progress | None, description: str) -> None:
        self._bar = bar
        self._description = description
        self._task: Any = None
        self.started = False

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        if not self.started:
            self._bar.start()
            self.started = True
        if self._task is None:
            self._task = self._bar.add_task(self._description, total=None)
        self._bar.update(self._task, completed=done, total=total)

    def stage(self, description: str) -> None:
        """The next updates belong to a new stage called ``description``."""
        self._description = description
        self._task = None


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressFeed]:
    """A rich progress bar on stderr; yields a :class:`ProgressFeed` ``(done, total)``."""
    if not enabled:
        yield ProgressFeed(None, description)
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )
    feed = ProgressFeed(bar, description)
    try:
        yield feed
    finally:
        if feed.started:
            bar.stop()
