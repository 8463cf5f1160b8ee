"""The ``skyfence`` command: one sub-command group per noun.

Each module in :data:`GROUPS` exposes ``register(root)``, which adds its group or commands.
``main`` runs the app and turns every error into one line on stderr with exit code 1
(``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import importlib
import sys

import typer

from skyfence import __version__
from skyfence.errors import SkyfenceError

GROUPS = (
    "skyfence.cli.demo",
    "skyfence.cli.constellation",
    "skyfence.cli.links",
    "skyfence.cli.region",
    "skyfence.cli.analysis",
    "skyfence.cli.policy",
    "skyfence.cli.log",
    "skyfence.cli.detect",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"skyfence {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """Build the root Typer app with every group registered."""
    app = typer.Typer(
        name="skyfence",
        help="Simulate a satellite constellation, ask what-if about where it is switched on, "
        "decide and account for it.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        """skyfence: where is the network switched on, and what follows."""

    for name in GROUPS:
        module = importlib.import_module(name)
        module.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skyfence`` console script.

    Usage errors (unknown option, missing argument) are reported by Typer with exit code 2.
    Every other error is one line on stderr with exit code 1; ``--debug`` re-raises it.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    code = 0
    try:
        app = build_app()
        app(args=args, prog_name="skyfence")
    except SystemExit as exc:  # Typer/click exit (help, usage errors, typer.Exit)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SkyfenceError as exc:
        if debug:
            raise
        print(f"skyfence: error: {_one_line(exc)}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("skyfence: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if debug:
            raise
        print(
            f"skyfence: internal error: {type(exc).__name__}: {_one_line(exc)} "
            "(rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        code = 1
    if argv is None:
        sys.exit(code)
    return code


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    main()
