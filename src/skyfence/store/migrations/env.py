"""Alembic environment: runs on the connection :func:`skyfence.store.db.upgrade` passes in."""

from __future__ import annotations

from alembic import context

from skyfence.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running alembic by hand
    raise RuntimeError(
        "skyfence migrations run from skyfence.store.Store.open(); "
        "there is no alembic.ini to run them from the command line"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
