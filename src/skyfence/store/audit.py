"""The state tables against the whole log: what ``log verify --database`` adds to the log's
own checks.

The log is replayed (:class:`skyfence.store.state.Replay`) and every table row is compared
with what the history says: each policy version's document hash, time, change and entry;
each change's status and document; each terminal's record. The first difference is reported
in one line, naming the table and the row.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.store._time import iso_utc
from skyfence.store.models import PendingChangeRow, PolicyVersionRow
from skyfence.store.registry import load_registry
from skyfence.store.state import Replay, record_hash

__all__ = ["audit_tables"]

EDITED = "edited outside skyfence"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def audit_tables(session: Session, replay: Replay) -> str | None:
    """The first difference between the tables and the replayed log, or ``None``."""
    return _versions(session, replay) or _changes(session, replay) or _terminals(session, replay)


def _versions(session: Session, replay: Replay) -> str | None:
    rows = {r.version: r for r in session.execute(select(PolicyVersionRow)).scalars()}
    for version, facts in sorted(replay.versions.items()):
        row = rows.pop(version, None)
        if row is None:
            return f"policy_versions: version {version} (log entry {facts.index}) is missing ({EDITED})"
        problems: list[str] = []
        if (
            _sha(row.document_json) != facts.document_hash
            or row.document_hash != facts.document_hash
        ):
            problems.append("its document differs from the one the log records")
        if iso_utc(row.applied_at) != facts.time:
            problems.append(f"applied_at {iso_utc(row.applied_at)} differs from {facts.time}")
        if row.change_id != facts.change_id or row.log_index != facts.index:
            problems.append("its change id or log index differs")
        if facts.approved_by is not None and row.approved_by != facts.approved_by:
            problems.append(f"approved_by {row.approved_by!r} differs from {facts.approved_by!r}")
        if problems:
            return f"policy_versions: version {version}: {'; '.join(problems)} ({EDITED})"
    if rows:
        extra = sorted(rows)
        return f"policy_versions: version {extra[0]} is not in the log ({EDITED})"
    return None


def _changes(session: Session, replay: Replay) -> str | None:
    rows: dict[Any, PendingChangeRow] = {
        r.id: r for r in session.execute(select(PendingChangeRow)).scalars()
    }
    for change_id, facts in sorted(replay.changes.items(), key=lambda kv: str(kv[0])):
        row = rows.pop(change_id, None)
        if row is None:
            return f"pending_changes: change {change_id} (log entry {facts.request_index}) is missing ({EDITED})"
        if row.status != facts.status:
            return (
                f"pending_changes: change {change_id} is {row.status} but the log says "
                f"{facts.status} ({EDITED})"
            )
        if _sha(row.document_json) != facts.document_hash:
            return (
                f"pending_changes: change {change_id}'s document differs from the log's ({EDITED})"
            )
    if rows:
        return f"pending_changes: change {sorted(rows)[0]} is not in the log ({EDITED})"
    return None


def _terminals(session: Session, replay: Replay) -> str | None:
    table = load_registry(session)
    for terminal_id in sorted(set(table) | set(replay.terminals)):
        logged = replay.terminals.get(terminal_id)
        text = table.get(terminal_id)
        if text is None:
            return f"terminals: {terminal_id!r} is in the log but not in the table ({EDITED})"
        if logged is None:
            return f"terminals: {terminal_id!r} is in the table but not in the log ({EDITED})"
        if record_hash(text) != logged:
            return f"terminals: {terminal_id!r} differs from its last logged record ({EDITED})"
    return None
