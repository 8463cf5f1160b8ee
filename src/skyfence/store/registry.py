"""The terminal registry inside the store's transactions, checked against the log.

A write first checks the table against the registry digest the log attests (so it never
builds on rows edited outside skyfence), then writes every record of the call, logs one
``terminal.put`` / ``terminal.delete`` entry per record, and leaves the new digest in the
state of the transaction's last entry. All or nothing: one bad record and none is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from skyfence.errors import InputError, IntegrityError, NotFoundError
from skyfence.store.canonical import canonical_json
from skyfence.store.identity import Actor
from skyfence.store.models import Base, TerminalRow
from skyfence.store.state import StoreState, record_hash, registry_digest
from skyfence.store.tlog import _UnitOfWork

__all__ = ["check_terminal", "load_registry", "check_registry", "put_terminals", "delete_terminal"]

HINT = "run `skyfence log verify --database` for the details"
ProgressCallback = Callable[[int, int], None]


def check_terminal(record: Any) -> tuple[str, dict[str, Any], str]:
    """``(id, record, canonical JSON)`` of a terminal record, or ``InputError``."""
    if not isinstance(record, dict):
        raise InputError(f"a terminal record is a dict, not {type(record).__name__}")
    terminal_id = record.get("id")
    if not isinstance(terminal_id, str) or not terminal_id.strip():
        raise InputError(
            "a terminal record needs a non-empty string 'id', e.g. {'id': 'UT-0001', ...}"
        )
    if len(terminal_id) > 200:
        raise InputError(f"terminal id {terminal_id[:20]!r}... is longer than 200 characters")
    if not isinstance(record.get("whitelists", []), list):
        raise InputError(f"terminal {terminal_id}: 'whitelists' must be a list of names")
    if not isinstance(record.get("speed_exempt", False), bool):
        raise InputError(f"terminal {terminal_id}: 'speed_exempt' must be true or false")
    return terminal_id, record, canonical_json(record).decode("utf-8")


def load_registry(conn: Connection | Session) -> dict[str, str]:
    """Every stored terminal: ``{terminal_id: record JSON}``."""
    rows = conn.execute(select(TerminalRow.terminal_id, TerminalRow.record_json))
    return {str(i): str(text) for i, text in rows}


def check_registry(records: dict[str, str], state: StoreState) -> None:
    """Refuse a registry table that is not the one the log attests."""
    digest = registry_digest((i, record_hash(text)) for i, text in records.items())
    if len(records) != state.terminals or digest != state.terminals_digest:
        raise IntegrityError(
            f"the terminal table ({len(records)} rows) is not the registry the log attests "
            f"({state.terminals} terminals, digest {state.terminals_digest[:12]}…): rows were "
            f"added, deleted or edited outside skyfence; skyfence will not use it. {HINT}"
        )


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def put_terminals(
    uow: _UnitOfWork,
    records: Iterable[dict[str, Any]],
    *,
    actor: Actor,
    reason: str,
    progress: ProgressCallback | None = None,
) -> list[int]:
    checked = [check_terminal(record) for record in records]
    s, now = uow.session, uow.now
    current = load_registry(s)
    check_registry(current, uow.state)
    hashes = {i: record_hash(text) for i, text in current.items()}
    final: dict[str, dict[str, Any]] = {}
    out: list[int] = []
    for n, (terminal_id, record, text) in enumerate(checked, start=1):
        created = terminal_id not in hashes
        index = uow.appender.append(
            "terminal.put",
            {
                "terminal_id": terminal_id,
                "record": record,
                "created": created,
                "actor": actor.record(),
            },
            author=actor.name,
            reason=reason,
            now=now,
        )
        hashes[terminal_id] = record_hash(text)
        final[terminal_id] = {
            "terminal_id": terminal_id,
            "country": _opt_str(record.get("country")),
            "plan": _opt_str(record.get("plan")),
            "whitelists": record.get("whitelists", []),
            "speed_exempt": record.get("speed_exempt", False),
            "record_json": text,
            "updated_at": now,
            "log_index": index,
        }
        out.append(index)
        if progress is not None:
            progress(n, len(checked))
    new = [dict(v, created_at=now) for k, v in final.items() if k not in current]
    changed = [dict(v, key=k) for k, v in final.items() if k in current]
    conn = s.connection()
    if new:
        conn.execute(insert(TerminalRow), new)
    if changed:
        t = Base.metadata.tables["terminals"]
        conn.execute(
            update(t)
            .where(t.c.terminal_id == bindparam("key"))
            .values(
                {
                    c: bindparam(c, type_=t.c[c].type)
                    for c in (
                        "country",
                        "plan",
                        "whitelists",
                        "speed_exempt",
                        "record_json",
                        "updated_at",
                        "log_index",
                    )
                }
            ),
            [{k: v for k, v in row.items() if k != "terminal_id"} for row in changed],
        )
    uow.state = replace(
        uow.state, terminals=len(hashes), terminals_digest=registry_digest(hashes.items())
    )
    return out


def delete_terminal(uow: _UnitOfWork, terminal_id: str, *, actor: Actor, reason: str) -> int:
    s = uow.session
    current = load_registry(s)
    check_registry(current, uow.state)
    if terminal_id not in current:
        raise NotFoundError(f"no terminal {terminal_id!r} to delete")
    index = uow.appender.append(
        "terminal.delete",
        {"terminal_id": terminal_id, "actor": actor.record()},
        author=actor.name,
        reason=reason,
        now=uow.now,
    )
    s.execute(delete(TerminalRow).where(TerminalRow.terminal_id == terminal_id))
    del current[terminal_id]
    uow.state = replace(
        uow.state,
        terminals=len(current),
        terminals_digest=registry_digest((i, record_hash(t)) for i, t in current.items()),
    )
    return index


def records_of(texts: Iterable[str]) -> list[dict[str, Any]]:
    return [dict(json.loads(text)) for text in texts]
