"""The CLI's error contract: one line on stderr, exit code 1, traceback only with --debug."""

import pytest
import typer

from skyfence.cli import main as cli_main
from skyfence.errors import InputError


def _app_with_failing_command(exc: Exception):
    def register(root: typer.Typer) -> None:
        @root.command("boom")
        def boom() -> None:
            raise exc

    return register


@pytest.fixture()
def failing(monkeypatch):
    def install(exc):
        class Module:
            register = staticmethod(_app_with_failing_command(exc))

        real = cli_main.importlib.import_module

        def fake_import(name, *args, **kwargs):
            return Module if name == "skyfence.cli.demo" else real(name, *args, **kwargs)

        monkeypatch.setattr(cli_main.importlib, "import_module", fake_import)

    return install


def test_skyfence_error_is_one_line_exit_1(failing, capsys):
    failing(InputError("bad thing;\nexpected a good one"))
    assert cli_main.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err == "skyfence: error: bad thing; expected a good one\n"


def test_unexpected_error_is_one_line_and_mentions_debug(failing, capsys):
    failing(ZeroDivisionError("division by zero"))
    assert cli_main.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "ZeroDivisionError" in err and "--debug" in err


def test_debug_reraises(failing):
    failing(InputError("bad"))
    with pytest.raises(InputError):
        cli_main.main(["--debug", "boom"])


def test_version(capsys):
    assert cli_main.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("skyfence ")


def test_one_app_per_run_shared_by_every_command(monkeypatch, tmp_path, capsys):
    from skyfence.cli._common import get_app

    seen = []

    def register(root: typer.Typer) -> None:
        @root.command("probe")
        def probe() -> None:
            seen.append((get_app(), get_app(), get_app().settings.data_dir))

    class Module:
        pass

    Module.register = staticmethod(register)
    real = cli_main.importlib.import_module
    monkeypatch.setattr(
        cli_main.importlib,
        "import_module",
        lambda name, *a, **k: Module if name == "skyfence.cli.demo" else real(name, *a, **k),
    )
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "one"))
    assert cli_main.main(["probe"]) == 0
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "two"))
    assert cli_main.main(["probe"]) == 0
    (a1, a2, d1), (b1, _, d2) = seen
    assert a1 is a2  # one App within a run
    assert a1 is not b1 and (d1, d2) == (tmp_path / "one", tmp_path / "two")  # settings per run
