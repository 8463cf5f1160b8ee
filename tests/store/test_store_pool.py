"""PostgreSQL's connection pool: a connection that lay idle is checked with one round trip
before use, and replaced when the server closed it; one returned a moment ago is used as it
is (no ping on every checkout: that doubled the round trips of a single decision)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from conftest import _postgres_schema_url, postgres_url

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg_url():
    base = postgres_url()
    if base is None:
        pytest.skip(
            "PostgreSQL only: set SKYFENCE_TEST_POSTGRES_URL, e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test, to run it"
        )
    yield from _postgres_schema_url(base)


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = sa.create_engine(url)
    try:
        with admin.begin() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    finally:
        admin.dispose()


def _counting_pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def do_ping(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", do_ping)
    return pings


def test_an_idle_connection_the_server_closed_is_replaced_before_use(pg_url, monkeypatch):
    from skyfence.store import db

    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    engine = db.make_engine(pg_url)
    try:
        pings = _counting_pings(engine, monkeypatch)
        first = _backend_pid(engine)
        assert pings == []  # a connection opened just now is not pinged
        _terminate(pg_url, first)
        second = _backend_pid(engine)  # the dead one is found by the ping and replaced
        assert second != first
        assert len(pings) == 1
    finally:
        engine.dispose()


def test_a_connection_returned_a_moment_ago_is_not_pinged(pg_url, monkeypatch):
    from skyfence.store import db

    monkeypatch.setattr(db, "IDLE_PING_S", 3600.0)
    engine = db.make_engine(pg_url)
    try:
        pings = _counting_pings(engine, monkeypatch)
        pids = {_backend_pid(engine) for _ in range(5)}
        assert len(pids) == 1 and pings == []  # one pooled connection, reused, never pinged
        _terminate(pg_url, pids.pop())
        with pytest.raises(sa.exc.OperationalError):  # used as it is: its statement fails
            _backend_pid(engine)
        assert _backend_pid(engine)  # and the pool has replaced it for the next one
    finally:
        engine.dispose()
