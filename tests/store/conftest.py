"""Store fixtures: ``store_url`` runs each store test on SQLite and on PostgreSQL.

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
import sqlalchemy as sa

from skyfence.store import Store

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
    base = os.environ.get("SKYFENCE_TEST_POSTGRES_URL") or None
    if base is None:
        pytest.skip(
            "PostgreSQL variant: set SKYFENCE_TEST_POSTGRES_URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test, to run it"
        )
    yield from _postgres_schema_url(base)


@pytest.fixture()
def make_store(
    store_url: str, tmp_path: Path, clock: FrozenClock
) -> Iterator[Callable[..., Store]]:
    """Open stores on ``store_url`` (keys under tmp_path, frozen clock); all closed at the end."""
    opened: list[Store] = []

    def make(**kwargs: Any) -> Store:
        kwargs.setdefault("key_dir", tmp_path / "keys")
        kwargs.setdefault("clock", clock)
        store = Store.open(store_url, **kwargs)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture()
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()
