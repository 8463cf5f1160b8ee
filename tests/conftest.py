"""Shared fixtures: the real data in ../shared/data (optional), a temporary data dir, and
stores on SQLite and PostgreSQL (``store_url``, ``make_store``, ``store``, ``clock``).

PostgreSQL variants run when ``SKYFENCE_TEST_POSTGRES_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets a fresh schema that is
dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The directory of real Starlink data beside the repository, or skip with the reason."""
    if not (SHARED_DATA / "starlink-2026-02-22.tle").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (a checkout without ../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def starlink_tle(shared_data: Path) -> Path:
    return shared_data / "starlink-2026-02-22.tle"


@pytest.fixture()
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point skyfence's data dir and database at a temporary directory."""
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    return tmp_path


def postgres_url() -> str | None:
    return os.environ.get("SKYFENCE_TEST_POSTGRES_URL") or None


START = datetime(2026, 2, 22, 12, 0, 0)


class FrozenClock:
    """A clock that only moves when told to (naive UTC datetimes)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture()
def clock() -> FrozenClock:
    return FrozenClock()


def _postgres_schema_url(base: str) -> Iterator[str]:
    import sqlalchemy as sa

    schema = f"skyfence_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip(
            "PostgreSQL variant: set SKYFENCE_TEST_POSTGRES_URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test, to run it"
        )
    yield from _postgres_schema_url(base)


@pytest.fixture()
def make_store(store_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Callable[..., Any]]:
    """Open stores on ``store_url`` (keys under tmp_path, frozen clock); all closed at the end.

    Stores are made with ``require_distinct_os_users=False`` unless a test asks otherwise:
    most tests play two people from one OS account.
    """
    from skyfence.store import Store

    opened: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("key_dir", tmp_path / "keys")
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("require_distinct_os_users", False)
        store = Store.open(store_url, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture()
def store(make_store: Callable[..., Any]) -> Any:
    return make_store()


@pytest.fixture()
def running_witness(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start witnesses (``skyfence.transparency.witness``, HTTP on 127.0.0.1) for a log's
    vkey; yields ``start(vkey, cosigner) -> URL prefix``. Shut down at the end."""
    import threading

    from skyfence.transparency.note import parse_vkey
    from skyfence.transparency.witness import Witness, serve

    servers = []

    def start(vkey: str, cosigner: Any) -> str:
        witness = Witness(
            tmp_path / f"{cosigner.name.replace('/', '_')}.db", cosigner, [parse_vkey(vkey)]
        )
        server = serve(witness, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
