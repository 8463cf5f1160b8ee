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


def test_the_cli_starts_without_loading_the_heavy_packages():
    # every command pays for what the CLI imports at start: building the app (all groups
    # registered) must not load the science, database or plotting stacks
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from skyfence.cli.main import build_app\n"
        "build_app()\n"
        "heavy = ('scipy', 'sqlalchemy', 'shapely', 'matplotlib', 'h3', 'sgp4', 'pyarrow',\n"
        "         'sklearn', 'skyfence.links', 'skyfence.store', 'skyfence.policy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_links_terminal_says_which_rule_is_the_default(capsys):
    from skyfence.links import DEFAULT_RULE

    assert cli_main.main(["links", "terminal", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert f"{DEFAULT_RULE} (the default of every command)" in out
