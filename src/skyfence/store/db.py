"""Engines and migrations: SQLite (default, WAL, ``BEGIN IMMEDIATE`` writes) and PostgreSQL.

Writes on SQLite start with ``BEGIN IMMEDIATE``, so two writers never interleave (the second
waits up to ``busy_timeout``); reads use a deferred transaction. On PostgreSQL writers lock the
single ``log_head`` row (``SELECT ... FOR UPDATE``) first, which serialises log appends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from skyfence.errors import ConfigurationError, DependencyError

__all__ = ["normalise_url", "make_engine", "open_schema", "upgrade_to_head", "READ_ONLY"]

READ_ONLY = "skyfence_read_only"
"""Execution option: this connection only reads (SQLite: plain deferred ``BEGIN``)."""

_BACKENDS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_S = 30.0


def normalise_url(url: str) -> URL:
    """Parse ``url``; ``postgresql://`` means the psycopg 3 driver. Unknown backends are refused."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"cannot read database URL {url!r}; expected e.g. sqlite:///path/to/skyfence.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in _BACKENDS:
        raise ConfigurationError(
            f"database backend {backend!r} is not supported; choose one of: {', '.join(_BACKENDS)}"
        )
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with skyfence's transaction rules (see the module docstring)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    try:
        engine = create_engine(parsed)
    except (ModuleNotFoundError, NoSuchModuleError):
        raise DependencyError(
            "PostgreSQL needs the psycopg driver: pip install 'skyfence[postgres]'"
        ) from None
    _ping_when_idle(engine)
    return engine


IDLE_PING_S = 1.0
"""A pooled PostgreSQL connection idle for longer than this is pinged when checked out."""


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with one round trip when it is checked out after lying idle
    for more than :data:`IDLE_PING_S`; a dead one (the server restarted, an idle timeout)
    is replaced before anyone uses it (SQLAlchemy's pool retries on ``DisconnectionError``).

    ``pool_pre_ping`` does the same on *every* checkout: under load that doubled the round
    trips of a single decision (a ping, then the read of the log head). A connection
    returned a moment ago is as alive as a ping would show; one that dies while in use fails
    its statement either way, and the pool then replaces every connection opened before.
    """
    import time

    from sqlalchemy.exc import DisconnectionError

    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")  # none: opened just now
        if since is None or time.monotonic() - since <= IDLE_PING_S:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc
        if not alive:  # pragma: no cover - psycopg raises instead
            raise DisconnectionError("pooled connection is dead")


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    kwargs: dict[str, Any] = {
        "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    else:
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create {folder} for the database: {exc.strerror or exc}; set "
                "SKYFENCE_DATA_DIR (or SKYFENCE_DATABASE_URL) to a place you can write"
            ) from None
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would defer it)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def migration_config() -> Any:
    """An Alembic ``Config`` pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "skyfence.store:migrations")
    return config


#: The newest migration shipped (``migrations/versions``); a test keeps it equal to Alembic's
#: head. A store already at it is opened without loading Alembic at all.
HEAD_REVISION = "0003"


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at :data:`HEAD_REVISION` (one cheap query)."""
    from sqlalchemy import inspect, text

    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    return [r[0] for r in rows] == [HEAD_REVISION]


def open_schema(engine: Engine) -> None:
    """:func:`upgrade_to_head`, with a database that cannot be reached or opened refused in
    one line that names it (password hidden) and says what to check."""
    from sqlalchemy.exc import OperationalError

    try:
        upgrade_to_head(engine)
    except OperationalError as exc:
        engine.dispose()
        reason = " ".join(str(exc.orig or exc).split()) or type(exc).__name__
        where = engine.url.render_as_string(hide_password=True)
        hint = (
            "check SKYFENCE_DATABASE_URL and that PostgreSQL is running and reachable"
            if engine.dialect.name == "postgresql"
            else "check that the file's folder exists and can be written (SKYFENCE_DATA_DIR)"
        )
        raise ConfigurationError(f"cannot open the database {where}: {reason}; {hint}") from None


def upgrade_to_head(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (creates the schema on a new database).

    A database already at :data:`HEAD_REVISION` is left alone after one query.

    On SQLite, foreign keys are switched off for the migration (outside its transaction,
    where SQLite honours the switch): Alembic changes a table there by copying it into a new
    one, and the old one could not be dropped while other tables refer to it. The foreign
    keys are checked before the migration commits.
    """
    if at_head(engine):
        return
    from alembic import command

    config = migration_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    # one migrator at a time per database; released at commit
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7316504127)")
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:  # pragma: no cover - a migration bug
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:3]}")
        finally:
            if sqlite:
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
