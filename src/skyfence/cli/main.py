"""The ``skyfence`` command: one sub-command group per noun.

Each module in :data:`GROUPS` exposes ``register(root)``, which adds its group or commands.
:func:`build_command` turns the Typer app into the command tree and applies the conventions
every command shares, wherever it is defined:

* **Negative numbers are values.** ``skyfence links terminal 40.7 -74.0`` reads ``-74.0`` as
  an argument, not as an option ``-7``; no ``--`` is needed. Any other unknown option is
  still an error (``--jsn`` gets "No such option: --jsn (Did you mean --json?)").
* **Clean help.** Flags show no ``<bool>`` type, argument names are upper case, and the
  reStructuredText of docstrings (``--json`` in double back-quotes, ``:func:`x```) is shown
  as plain text.

:func:`main` builds one :class:`skyfence.app.App` per run (see
:func:`skyfence.cli._common.get_app`), runs the command, and turns every error into one line
on stderr with exit code 1 — usage errors (an unknown option, a missing argument, a value of
the wrong type) included. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from typing import Any

import typer

from skyfence import __version__
from skyfence.cli._common import click_exceptions, use_app
from skyfence.errors import SkyfenceError

GROUPS = (
    "skyfence.cli.demo",
    "skyfence.cli.constellation",
    "skyfence.cli.links",
    "skyfence.cli.region",
    "skyfence.cli.analysis",
    "skyfence.cli.policy",
    "skyfence.cli.log",
    "skyfence.cli.witness",
    "skyfence.cli.detect",
    "skyfence.cli.tokens",
    "skyfence.cli.service",
    "skyfence.cli.remote",
)

#: A token that is a number (``-74.0``, ``-1e3``, ``-.5``), never an option name.
SIGNED_NUMBER = re.compile(r"-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_RST_LITERAL = re.compile(r"``(.+?)``")
_RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


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


def build_command() -> Any:
    """The command tree of :func:`build_app` with the shared conventions applied (see above)."""
    root = typer.main.get_command(build_app())
    _apply_conventions(root)
    return root


def plain_text(text: str | None) -> str | None:
    """Help text without reStructuredText markup: ````--json```` → ``--json``.

    Examples
    --------
    >>> plain_text("Print it (``--json`` prints JSON); see :func:`skyfence.app.demo`.")
    'Print it (--json prints JSON); see skyfence.app.demo.'
    """
    if not text:
        return text
    return _RST_ROLE.sub(r"\1", _RST_LITERAL.sub(r"\1", text))


def _apply_conventions(command: Any) -> None:
    command.help = plain_text(command.help)
    command.short_help = plain_text(getattr(command, "short_help", None))
    # an unknown option is always an error: negative numbers no longer need this work-around
    settings = getattr(command, "context_settings", None)
    if isinstance(settings, dict):
        settings.pop("ignore_unknown_options", None)
    for param in command.params:
        _tidy_param(param)
    get_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            _tidy_param(option)
        return option

    command.get_help_option = help_option
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for sub in subcommands.values():
            _apply_conventions(sub)
    else:
        command.make_parser = _signed_numbers_are_values(command.make_parser)


def _tidy_param(param: Any) -> None:
    param.help = plain_text(getattr(param, "help", None))
    if getattr(param, "is_flag", False):
        param.display_type_rich = _no_type
    elif getattr(param, "param_type_name", "") == "argument" and param.metavar is None:
        param.metavar = param.name.upper()


def _no_type(ctx: Any = None) -> None:
    return None


def _signed_numbers_are_values(make_parser: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Wrap a command's ``make_parser`` so that ``-74.0`` is taken as a positional value."""

    def make(ctx: Any) -> Any:
        parser = make_parser(ctx)
        process_opts = parser._process_opts

        def process(arg: str, state: Any) -> None:
            known = arg in parser._short_opt or arg in parser._long_opt
            if not known and SIGNED_NUMBER.fullmatch(arg):
                state.largs.append(arg)
            else:
                process_opts(arg, state)

        parser._process_opts = process
        return parser

    return make


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skyfence`` console script.

    Every error — a :class:`~skyfence.errors.SkyfenceError`, a usage error, an unexpected
    exception — is one line on stderr with exit code 1; ``--debug`` re-raises it instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    usage_error, no_args_is_help = click_exceptions()
    code = 0
    try:
        with use_app():
            result = build_command().main(args=args, prog_name="skyfence", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except SystemExit as exc:  # typer.Exit raised outside a command, sys.exit in a command
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except no_args_is_help:
        code = 0  # the help was printed
    except usage_error as exc:
        if debug:
            raise
        print(f"skyfence: error: {_one_line(_usage_message(exc))}", file=sys.stderr)
        code = 1
    except SkyfenceError as exc:
        if debug:
            raise
        print(f"skyfence: error: {_one_line(_for_the_cli(exc))}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("skyfence: interrupted", file=sys.stderr)
        code = 130
    except typer.Abort:
        print("skyfence: aborted", file=sys.stderr)
        code = 1
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


#: How a library error's hint reads to a CLI user: every command that reads element sets
#: takes ``--skip-invalid``, the CLI's word for ``on_invalid='skip'``.
CLI_HINTS = {
    "to leave invalid records out, pass on_invalid='skip'": (
        "to leave invalid records out, pass --skip-invalid"
    ),
}


def _for_the_cli(exc: SkyfenceError) -> SkyfenceError:
    """``exc`` with its hint in the CLI's words (a ParseError's ``hint``), else unchanged."""
    from skyfence.errors import ParseError

    if isinstance(exc, ParseError) and exc.hint in CLI_HINTS:
        return exc.with_hint(CLI_HINTS[exc.hint])
    return exc


def _usage_message(exc: Any) -> str:
    ctx = getattr(exc, "ctx", None)
    message = str(exc.format_message())
    if ctx is not None:
        return f"{message} (see '{ctx.command_path} --help')"
    return message


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":  # pragma: no cover
    main()
