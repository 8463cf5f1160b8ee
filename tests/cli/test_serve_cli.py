"""``skyfence serve`` refuses, in one line and before uvicorn starts, a database it cannot
open and an address it cannot listen on (no traceback, exit code 1); the same errors reach
every command that opens the store."""

from __future__ import annotations

import socket

import pytest

from clirun import run


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err and "internal error" not in err, err
    return err


@pytest.fixture()
def no_uvicorn(monkeypatch):
    """Fail the test if uvicorn is ever started."""
    import uvicorn

    def refuse(*_args, **_kwargs):
        raise AssertionError("uvicorn started although the checks should have refused")

    monkeypatch.setattr(uvicorn, "run", refuse)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_is_one_line_naming_it_without_its_password(
    capsys, monkeypatch, tmp_path, no_uvicorn
):
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    url = f"postgresql+psycopg://someone:s3cret@127.0.0.1:{_closed_port()}/skyfence"
    monkeypatch.setenv("SKYFENCE_DATABASE_URL", url)
    code, _, err = run(capsys, "serve", "--port", str(_closed_port()))
    assert code == 1
    assert "cannot open the database postgresql+psycopg://someone:***@127.0.0.1:" in _one_line(err)
    assert "s3cret" not in err and "SKYFENCE_DATABASE_URL" in err
    code, _, err = run(capsys, "policy", "show")  # any command that opens the store
    assert code == 1 and "cannot open the database" in _one_line(err)


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_a_data_dir_that_cannot_be_made_is_one_line(
    capsys, monkeypatch, tmp_path, no_uvicorn, where
):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    data = blocker if where == "file" else blocker / "data"
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(data))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    code, _, err = run(capsys, "serve", "--port", str(_closed_port()))
    assert code == 1 and "for the database" in _one_line(err) and "SKYFENCE_DATA_DIR" in err


def test_an_address_in_use_or_unknown_is_one_line(capsys, monkeypatch, tmp_path, no_uvicorn):
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = run(capsys, "serve", "--port", str(port))
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in _one_line(err)
    code, _, err = run(capsys, "serve", "--host", "no-such-host.invalid", "--port", "8000")
    assert code == 1 and "cannot listen on no-such-host.invalid:8000" in _one_line(err)
