"""Jobs: long work (what-ifs) run off the request path, each a row that moves from
``queued`` to ``running`` to ``done`` or ``failed``. A job is never lost silently: a process
that starts marks as failed every unfinished job whose owner (``host:pid``) on this host is
no longer alive. Jobs change no policy state, so they are not log entries."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from skyfence.errors import NotFoundError
from skyfence.store.models import JobRow

if TYPE_CHECKING:
    from skyfence.store.store import Store

__all__ = ["Job", "this_owner", "create_job", "get_job", "mark", "fail_orphans"]

UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    params: dict[str, Any]
    status: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    owner: str
    result: dict[str, Any] | None
    error: str | None
    out_dir: str | None


def this_owner() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _job(row: JobRow) -> Job:
    return Job(
        row.job_id, row.kind, json.loads(row.params), row.status, row.created_by,
        row.created_at, row.started_at, row.finished_at, row.owner,
        None if row.result is None else json.loads(row.result), row.error, row.out_dir,
    )  # fmt: skip


def create_job(store: Store, kind: str, params: dict[str, Any], *, created_by: str) -> Job:
    """A new ``queued`` job owned by this process."""
    row = JobRow(
        job_id=secrets.token_hex(8), kind=kind, params=json.dumps(params, sort_keys=True),
        status="queued", created_by=created_by, created_at=store._now(), owner=this_owner(),
    )  # fmt: skip
    with Session(store._engine, expire_on_commit=False) as s, s.begin():
        s.add(row)
    return _job(row)


def get_job(store: Store, job_id: str) -> Job:
    with Session(store._read_engine) as s:
        row = s.get(JobRow, str(job_id))
        if row is None:
            raise NotFoundError(f"no job {job_id!r}")
        return _job(row)


def mark(store: Store, job_id: str, status: str, **fields: Any) -> Job:
    """Move a job to ``status`` (``running``, ``done``, ``failed``), setting ``fields``
    (``result`` as a dict, ``error``, ``out_dir``); times are set here."""
    with Session(store._engine, expire_on_commit=False) as s, s.begin():
        row = s.get(JobRow, str(job_id))
        if row is None:
            raise NotFoundError(f"no job {job_id!r}")
        row.status = status
        now = store._now()
        if status == "running":
            row.started_at = now
        else:
            row.finished_at = now
        if "result" in fields:
            row.result = json.dumps(fields["result"])
        if "error" in fields:
            row.error = str(fields["error"])[:2000]
        if "out_dir" in fields:
            row.out_dir = str(fields["out_dir"])
        return _job(row)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process
        return True
    return True


def fail_orphans(store: Store) -> list[str]:
    """Mark failed every unfinished job whose owner on this host is dead; their ids."""
    host = socket.gethostname()
    failed: list[str] = []
    with Session(store._engine) as s, s.begin():
        rows = s.execute(select(JobRow).where(JobRow.status.in_(UNFINISHED))).scalars()
        for row in rows:
            owner_host, _, pid = row.owner.rpartition(":")
            if owner_host != host or not pid.isdigit():
                continue
            # at start nothing runs in this process yet: a job under its own pid (a reused
            # pid, as in a container) is an orphan too
            if int(pid) != os.getpid() and _alive(int(pid)):
                continue
            row.status = "failed"
            row.finished_at = store._now()
            row.error = (
                f"the server process that ran it ({row.owner}) stopped before it finished; "
                "submit it again"
            )
            failed.append(row.job_id)
    return failed
