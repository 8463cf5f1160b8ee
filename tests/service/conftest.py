"""Service fixtures: an app on a fresh database (SQLite always; PostgreSQL when
``SKYFENCE_TEST_POSTGRES_URL`` is set, through the shared ``store_url`` fixture), tokens for
every role, and a live uvicorn server in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROLES = ("viewer", "terminal-gateway", "operator", "approver", "admin")
POLICY = {
    "rules": [
        {"id": "pl", "region": "PL", "state": "active"},
        {"id": "ua", "region": "UA", "state": "suspended"},
        {"id": "de", "region": "DE", "state": "active"},
    ]
}


class Service:
    """A TestClient over the app, the App, and a token per role (plus a second approver)."""

    def __init__(self, client: Any, app: Any, tokens: dict[str, str]) -> None:
        self.client = client
        self.app = app
        self.tokens = tokens

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, method: str, path: str, who: str | None = None, **kw: Any) -> Any:
        headers = {**self.headers(who), **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)


CACHE = Path(os.environ.get("SKYFENCE_TEST_CACHE_DIR", "/tmp/skyfence-test-cache"))


def make_settings(tmp_path: Path, url: str) -> Any:
    """Settings on ``url``; the worldview cache is shared between tests (it is safe to share:
    keyed by its inputs)."""
    from skyfence.settings import load_settings

    return load_settings(data_dir=tmp_path / "data", database_url=url, cache_dir=CACHE)


def root() -> Any:
    from skyfence.app.identity import Principal

    return Principal.local("root", os_user="root")


def mint(app: Any, name: str, roles: list[str], **kw: Any) -> str:
    from skyfence.app.tokens import create

    token: str = create(app, root(), name, roles, **kw).token
    return token


@pytest.fixture()
def service(store_url: str, tmp_path: Path) -> Iterator[Service]:
    from fastapi.testclient import TestClient

    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.service import ServiceLimits, create_app

    app = App(make_settings(tmp_path, store_url))
    propose(app, root(), POLICY, reason="start")
    tokens = {role: mint(app, f"{role}-person", [role]) for role in ROLES}
    tokens["approver2"] = mint(app, "second-approver", ["approver"])
    api = create_app(app=app, limits=ServiceLimits(rate_per_s=0))
    with TestClient(api, raise_server_exceptions=False) as client:
        yield Service(client, app, tokens)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    def __init__(self, url: str, proc: subprocess.Popen[bytes], env: dict[str, str]) -> None:
        self.url = url
        self.proc = proc
        self.env = env


def start_server(env: dict[str, str], *, workers: int = 1, rate: float = 0) -> LiveServer:
    import httpx

    port = free_port()
    cmd = [
        sys.executable, "-m", "skyfence.cli.main", "serve", "--port", str(port),
        "--workers", str(workers), "--rate-limit", str(rate), "--log-level", "warning",
    ]  # fmt: skip
    import tempfile

    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")
            log.close()
            raise RuntimeError(f"server exited: {err[-2000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return LiveServer(url, proc, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait(10)
    log.close()
    raise RuntimeError("server did not become ready in 60 s")


def stop_server(server: LiveServer) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(10)
    server.proc.log.close()  # type: ignore[attr-defined]


@pytest.fixture()
def live(store_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A live server (one uvicorn process) on a fresh database, and tokens per role."""
    from skyfence.app import App
    from skyfence.app.changes import propose

    app = App(make_settings(tmp_path, store_url))
    propose(app, root(), POLICY, reason="start")
    tokens = {role: mint(app, f"{role}-person", [role]) for role in ROLES}
    tokens["approver2"] = mint(app, "second-approver", ["approver"])
    env = {
        **os.environ,
        "SKYFENCE_DATA_DIR": str(tmp_path / "data"),
        "SKYFENCE_DATABASE_URL": store_url,
        "SKYFENCE_CACHE_DIR": str(CACHE),
    }
    server = start_server(env)
    try:
        yield server, tokens
    finally:
        stop_server(server)
