"""Whether this process can serve: the database answers and its schema is current."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyfence.app._store import open_store

if TYPE_CHECKING:
    from skyfence.app.context import App

__all__ = ["Readiness", "readiness", "open_database"]


@dataclass(frozen=True)
class Readiness:
    """``ready`` when the database answered and is at the newest migration."""

    ready: bool
    database: str
    schema_revision: str
    tree_size: int | None
    problem: str | None = None


def readiness(app: App) -> Readiness:
    """Check the database (one query for the schema, one for the log head)."""
    from skyfence.store.db import HEAD_REVISION

    try:
        return open_database(app)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready, with the reason
        return Readiness(False, "unreachable", HEAD_REVISION, None, type(exc).__name__)


def open_database(app: App) -> Readiness:
    """Open the store (creating it, or upgrading its schema, when needed) and check it as
    :func:`readiness` does: what a service does once before it starts listening. Unlike
    :func:`readiness`, a failure is raised as the :class:`~skyfence.errors.SkyfenceError`
    that says what to fix (the database named, its password hidden)."""
    from skyfence.store.db import HEAD_REVISION, at_head

    with open_store(app) as store:
        current = at_head(store._engine)
        size, _ = store.head_marker()
        url = store.url
    problem = None if current else f"the schema is not at revision {HEAD_REVISION}"
    return Readiness(current, url.split(":", 1)[0], HEAD_REVISION, size, problem)
