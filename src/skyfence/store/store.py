"""The store: policy versions, the two-person rule, terminals, and the transparency log.

Every public call is one database transaction, and every state change appends a log entry in
that same transaction (and, by default, signs a checkpoint of the new tree head), so the log
and the state can never disagree: a crash or an error mid-call leaves the previous state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from skyfence.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from skyfence.store.canonical import canonical_hash, canonical_json
from skyfence.store.db import READ_ONLY, make_engine, upgrade_to_head
from skyfence.store.keys import KeyDirectory
from skyfence.store.models import (
    OperatorRow,
    PendingChangeRow,
    PolicyVersionRow,
    TerminalRow,
)
from skyfence.store.tlog import _LOCK_HEAD, TransparencyLog, _Appender, _naive_utc, iso_utc

__all__ = ["Store", "ApplyResult", "PendingChange", "PolicyVersion"]

DEFAULT_EXPIRES_AFTER_S = 7 * 86400.0
SYSTEM_AUTHOR = "skyfence"


@dataclass(frozen=True)
class ApplyResult:
    """Outcome of :meth:`Store.apply_policy` / :meth:`Store.approve`.

    ``status`` is ``"applied"`` (``version`` is the new version) or ``"pending"`` (waiting for
    a second operator; ``version`` is ``None``). ``log_index`` is the entry that records it.
    """

    status: str
    change_id: int
    version: int | None
    log_index: int


@dataclass(frozen=True)
class PendingChange:
    """A requested change. ``status``: pending, applied, rejected or expired."""

    id: int
    operator: str
    reason: str
    created_at: np.datetime64
    expires_at: np.datetime64
    summary: str
    status: str
    document_hash: str
    approved_by: str | None
    decided_at: np.datetime64 | None
    version: int | None
    log_index: int


@dataclass(frozen=True)
class PolicyVersion:
    """A policy version, in force from ``applied_at`` until the next one."""

    version: int
    applied_at: np.datetime64
    operator: str
    approved_by: str | None
    reason: str
    document_hash: str
    change_id: int
    log_index: int


class _UnitOfWork:
    def __init__(self, session: Session, appender: _Appender, now: datetime) -> None:
        self.session = session
        self.appender = appender
        self.now = now


class Store:
    """Policy versions, pending changes, terminals and the transparency log, in one database.

    Open with :meth:`Store.open`. ``store.log`` is the :class:`TransparencyLog`.

    Examples
    --------
    >>> import tempfile
    >>> keys = tempfile.mkdtemp()
    >>> store = Store.open("sqlite://", key_dir=keys)  # in memory; keys in a temp dir
    >>> store.apply_policy({"rules": []}, operator="alice", reason="start",
    ...                    requires_approval=False).status
    'applied'
    >>> store.log.size()  # the policy entry and the first signing key
    2
    >>> store.close()
    """

    def __init__(
        self,
        engine: Engine,
        *,
        key_dir: Path,
        clock: Callable[[], Any] | None = None,
        auto_checkpoint: bool = True,
    ) -> None:
        self._engine = engine
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._clock: Callable[[], Any] = clock or (lambda: datetime.now(UTC))
        self.auto_checkpoint = auto_checkpoint
        self.key_dir = Path(key_dir)
        self.log = TransparencyLog(
            engine, self._read_engine, KeyDirectory(self.key_dir), self._now, self._write
        )

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        settings: Any = None,
        clock: Callable[[], Any] | None = None,
        key_dir: str | Path | None = None,
        auto_checkpoint: bool = True,
    ) -> Store:
        """Open (and create or upgrade to the latest schema) the store at ``url``.

        Parameters
        ----------
        url
            SQLAlchemy URL. ``None``: ``settings.resolved_database_url()`` — a SQLite file
            under the data dir, or ``SKYFENCE_DATABASE_URL`` (e.g.
            ``postgresql+psycopg://user@host:5432/skyfence``).
        settings
            A :class:`skyfence.settings.Settings`; default :func:`~skyfence.settings.load_settings`.
        clock
            Callable returning the current UTC time (``datetime`` or ``numpy.datetime64``);
            tests pass a frozen clock.
        key_dir
            Where checkpoint-signing keys live; default ``<data_dir>/keys``.
        auto_checkpoint
            Sign a checkpoint at the end of every write (default). Turn off for bulk imports
            and call ``store.log.checkpoint()`` at the end.
        """
        if settings is None and (url is None or key_dir is None):
            from skyfence.settings import load_settings

            settings = load_settings()
        resolved = url if url is not None else settings.resolved_database_url()
        engine = make_engine(resolved)
        upgrade_to_head(engine)
        keys = Path(key_dir) if key_dir is not None else Path(settings.data_dir) / "keys"
        return cls(engine, key_dir=keys, clock=clock, auto_checkpoint=auto_checkpoint)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    # -- transactions -----------------------------------------------------------------------
    def _now(self) -> datetime:
        return _naive_utc(self._clock())

    @contextmanager
    def _write(self, *, checkpoint: bool = True) -> Iterator[_UnitOfWork]:
        """One write transaction: lock the log head, yield, append, sign, commit."""
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            tree_size = session.execute(_LOCK_HEAD).scalar_one()
            now = self._now()
            appender = _Appender(session, tree_size)
            uow = _UnitOfWork(session, appender, now)
            yield uow
            appender.flush()
            if checkpoint and self.auto_checkpoint and appender.size > appender.start_size:
                self.log._sign(session, appender, now, operator=SYSTEM_AUTHOR)

    def _read(self) -> Session:
        return Session(self._read_engine)

    def _touch_operator(self, session: Session, name: str, now: datetime) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InputError("operator must be a non-empty name (who is making the change)")
        row = session.get(OperatorRow, name)
        if row is None:
            session.add(OperatorRow(name=name, created_at=now, last_seen_at=now))
        else:
            row.last_seen_at = now

    # -- policy -----------------------------------------------------------------------------
    def apply_policy(
        self,
        document: dict[str, Any],
        *,
        operator: str,
        reason: str,
        requires_approval: bool,
        expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
        summary: str | None = None,
    ) -> ApplyResult:
        """Apply a policy document now, or (``requires_approval``) request it for approval.

        The document is stored and logged as canonical JSON; the store never interprets it.
        A requested change takes effect only when a second, different operator
        :meth:`approve` s it before ``expires_after_s`` seconds have passed.
        """
        if not isinstance(document, dict):
            raise InputError(
                f"a policy document is a dict (from skyfence.policy), not {type(document).__name__}"
            )
        if not isinstance(reason, str):
            raise InputError("reason must be a string saying why the policy changes")
        if not expires_after_s > 0:
            raise InputError(f"expires_after_s must be > 0 seconds, got {expires_after_s}")
        text = canonical_json(document).decode("utf-8")
        digest = canonical_hash(document)
        summary = summary if summary is not None else _summary(document, digest)
        with self._write() as uow:
            s, now = uow.session, uow.now
            self._touch_operator(s, operator, now)
            change = PendingChangeRow(
                kind="policy",
                document_json=text,
                document_hash=digest,
                summary=summary,
                status="pending" if requires_approval else "applied",
                created_by=operator,
                reason=reason,
                created_at=now,
                expires_at=now + timedelta(seconds=float(expires_after_s)),
                approved_by=None,
                decided_at=None if requires_approval else now,
                decision_reason=None,
                version=None,
                log_index=-1,
            )
            s.add(change)
            s.flush()
            if requires_approval:
                index = uow.appender.append(
                    "policy.request",
                    {
                        "change_id": change.id,
                        "document_hash": digest,
                        "document": document,
                        "summary": summary,
                        "expires_at": iso_utc(change.expires_at),
                    },
                    author=operator,
                    reason=reason,
                    now=now,
                )
                change.log_index = index
                return ApplyResult("pending", change.id, None, index)
            version = self._next_version(s)
            index = uow.appender.append(
                "policy.apply",
                {
                    "change_id": change.id,
                    "version": version,
                    "document_hash": digest,
                    "document": document,
                    "summary": summary,
                },
                author=operator,
                reason=reason,
                now=now,
            )
            change.version, change.log_index = version, index
            s.add(
                PolicyVersionRow(
                    version=version,
                    document_json=text,
                    document_hash=digest,
                    operator=operator,
                    approved_by=None,
                    reason=reason,
                    applied_at=now,
                    change_id=change.id,
                    log_index=index,
                )
            )
            return ApplyResult("applied", change.id, version, index)

    def _next_version(self, session: Session) -> int:
        top = session.execute(select(func.max(PolicyVersionRow.version))).scalar_one()
        return 1 if top is None else int(top) + 1

    def approve(self, change_id: int, *, operator: str, reason: str = "") -> ApplyResult:
        """Approve a pending change: it becomes the policy version in force from now.

        Raises
        ------
        PermissionDeniedError
            ``operator`` requested the change (two different people are needed).
        ConflictError
            The change is not pending any more, or has expired (it is then marked expired,
            logged, and never takes effect).
        NotFoundError
            No change has this id.
        """
        expired: ConflictError | None = None
        result: ApplyResult | None = None
        with self._write() as uow:
            s, now = uow.session, uow.now
            change = self._change_row(s, change_id)
            if change.status != "pending":
                raise ConflictError(
                    f"change {change_id} is {change.status}, not pending; only a pending change "
                    "can be approved (see `skyfence policy pending`)"
                )
            if now >= change.expires_at:
                self._expire(uow, change, triggered_by=operator)
                expired = ConflictError(
                    f"change {change_id} expired at {iso_utc(change.expires_at)} before it was "
                    "approved; it will never take effect. Submit it again to restart the clock"
                )
            else:
                if operator == change.created_by:
                    raise PermissionDeniedError(
                        f"{operator} requested change {change_id} and cannot also approve it; "
                        "a second, different operator must approve"
                    )
                self._touch_operator(s, operator, now)
                version = self._next_version(s)
                index = uow.appender.append(
                    "policy.approve",
                    {
                        "change_id": change.id,
                        "version": version,
                        "document_hash": change.document_hash,
                        "requested_by": change.created_by,
                        "request_index": change.log_index,
                    },
                    author=operator,
                    reason=reason,
                    now=now,
                )
                change.status, change.approved_by, change.decided_at = "applied", operator, now
                change.decision_reason, change.version = reason, version
                s.add(
                    PolicyVersionRow(
                        version=version,
                        document_json=change.document_json,
                        document_hash=change.document_hash,
                        operator=change.created_by,
                        approved_by=operator,
                        reason=change.reason,
                        applied_at=now,
                        change_id=change.id,
                        log_index=index,
                    )
                )
                result = ApplyResult("applied", change.id, version, index)
        if expired is not None or result is None:
            raise expired or ConflictError(f"change {change_id} was not applied")
        return result

    def reject(self, change_id: int, *, operator: str, reason: str = "") -> int:
        """Reject a pending change (any operator, including its author); returns the log index."""
        with self._write() as uow:
            s, now = uow.session, uow.now
            change = self._change_row(s, change_id)
            if change.status != "pending":
                raise ConflictError(f"change {change_id} is {change.status}, not pending")
            self._touch_operator(s, operator, now)
            index = uow.appender.append(
                "policy.reject",
                {"change_id": change.id, "document_hash": change.document_hash},
                author=operator,
                reason=reason,
                now=now,
            )
            change.status, change.approved_by, change.decided_at = "rejected", operator, now
            change.decision_reason = reason
            return index

    def expire_overdue(self) -> list[int]:
        """Mark every pending change past its expiry as expired (logged); their ids."""
        with self._write() as uow:
            rows = (
                uow.session.execute(
                    select(PendingChangeRow)
                    .where(PendingChangeRow.status == "pending")
                    .where(PendingChangeRow.expires_at <= uow.now)
                    .order_by(PendingChangeRow.id)
                )
                .scalars()
                .all()
            )
            for row in rows:
                self._expire(uow, row, triggered_by=SYSTEM_AUTHOR)
            return [r.id for r in rows]

    def _expire(self, uow: _UnitOfWork, change: PendingChangeRow, *, triggered_by: str) -> None:
        uow.appender.append(
            "policy.expire",
            {
                "change_id": change.id,
                "document_hash": change.document_hash,
                "expires_at": iso_utc(change.expires_at),
                "triggered_by": triggered_by,
            },
            author=SYSTEM_AUTHOR,
            reason=f"not approved before {iso_utc(change.expires_at)}",
            now=uow.now,
        )
        change.status, change.decided_at = "expired", uow.now

    def _change_row(self, session: Session, change_id: int) -> PendingChangeRow:
        row = session.get(PendingChangeRow, int(change_id))
        if row is None:
            raise NotFoundError(
                f"no change {change_id}; list pending changes with `skyfence policy pending`"
            )
        return row

    def pending_changes(self) -> list[PendingChange]:
        """Changes waiting for approval and not yet past their expiry, oldest first."""
        now = self._now()
        with self._read() as s:
            rows = s.execute(
                select(PendingChangeRow)
                .where(PendingChangeRow.status == "pending")
                .where(PendingChangeRow.expires_at > now)
                .order_by(PendingChangeRow.id)
            ).scalars()
            return [_pending(r) for r in rows]

    def changes(self, status: str | None = None) -> list[PendingChange]:
        """Every change (or those with ``status``), oldest first."""
        valid = ("pending", "applied", "rejected", "expired")
        if status is not None and status not in valid:
            raise InputError(f"unknown status {status!r}; choose one of: {', '.join(valid)}")
        with self._read() as s:
            query = select(PendingChangeRow).order_by(PendingChangeRow.id)
            if status is not None:
                query = query.where(PendingChangeRow.status == status)
            return [_pending(r) for r in s.execute(query).scalars()]

    def change(self, change_id: int) -> PendingChange:
        """One change by id."""
        with self._read() as s:
            return _pending(self._change_row(s, change_id))

    def change_document(self, change_id: int) -> dict[str, Any]:
        """The policy document a change carries."""
        with self._read() as s:
            return dict(json.loads(self._change_row(s, change_id).document_json))

    def policy_versions(self) -> list[PolicyVersion]:
        """Every applied policy version, oldest first."""
        with self._read() as s:
            rows = s.execute(select(PolicyVersionRow).order_by(PolicyVersionRow.version)).scalars()
            return [_version(r) for r in rows]

    def policy_document(self, version: int) -> dict[str, Any]:
        """The document of policy ``version``."""
        with self._read() as s:
            row = s.get(PolicyVersionRow, int(version))
            if row is None:
                raise NotFoundError(
                    f"no policy version {version}; list versions with `skyfence policy history`"
                )
            return dict(json.loads(row.document_json))

    def policy_document_at(
        self, time: np.datetime64 | datetime | str | None = None
    ) -> dict[str, Any] | None:
        """The policy document in force at ``time`` (default: now), or ``None`` before any."""
        when = self._now() if time is None else _to_naive(time)
        with self._read() as s:
            row = s.execute(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.applied_at <= when)
                .order_by(PolicyVersionRow.applied_at.desc(), PolicyVersionRow.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if row is None else dict(json.loads(row.document_json))

    def policy_version_at(self, time: np.datetime64 | datetime | str | None = None) -> int | None:
        """The number of the version in force at ``time`` (default: now), or ``None``."""
        when = self._now() if time is None else _to_naive(time)
        with self._read() as s:
            top = s.execute(
                select(PolicyVersionRow.version)
                .where(PolicyVersionRow.applied_at <= when)
                .order_by(PolicyVersionRow.applied_at.desc(), PolicyVersionRow.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if top is None else int(top)

    # -- terminals --------------------------------------------------------------------------
    def put_terminal(self, record: dict[str, Any], *, operator: str, reason: str) -> int:
        """Create or replace the terminal ``record["id"]``; returns the log entry's index.

        The record is an opaque JSON-able dict with a string ``id``; the store also indexes
        ``country``, ``plan``, ``whitelists`` (a list, default ``[]``) and ``speed_exempt``
        (default ``False``) when present.
        """
        return self.put_terminals([record], operator=operator, reason=reason)[0]

    def put_terminals(
        self, records: Iterable[dict[str, Any]], *, operator: str, reason: str
    ) -> list[int]:
        """:meth:`put_terminal` for many records in one transaction (one checkpoint).

        All or nothing: one invalid record and none is stored. Returns the log indices.
        """
        checked = [_check_terminal(record) for record in records]
        out: list[int] = []
        with self._write() as uow:
            s, now = uow.session, uow.now
            self._touch_operator(s, operator, now)
            for terminal_id, record, text in checked:
                row = s.get(TerminalRow, terminal_id)
                created = row is None
                index = uow.appender.append(
                    "terminal.put",
                    {"terminal_id": terminal_id, "record": record, "created": created},
                    author=operator,
                    reason=reason,
                    now=now,
                )
                values = {
                    "country": _opt_str(record.get("country")),
                    "plan": _opt_str(record.get("plan")),
                    "whitelists": record.get("whitelists", []),
                    "speed_exempt": record.get("speed_exempt", False),
                    "record_json": text,
                    "updated_at": now,
                    "log_index": index,
                }
                if row is None:
                    s.add(TerminalRow(terminal_id=terminal_id, created_at=now, **values))
                    s.flush()
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
                out.append(index)
        return out

    def get_terminal(self, terminal_id: str) -> dict[str, Any]:
        """The record stored for ``terminal_id`` (exactly as put)."""
        with self._read() as s:
            row = s.get(TerminalRow, terminal_id)
            if row is None:
                count = s.execute(select(func.count()).select_from(TerminalRow)).scalar_one()
                raise NotFoundError(
                    f"no terminal {terminal_id!r} ({count} terminals stored); "
                    "list them with `skyfence terminal list`"
                )
            return dict(json.loads(row.record_json))

    def terminals(self, *, country: str | None = None) -> list[dict[str, Any]]:
        """Every terminal record (optionally of one ``country``), ordered by id."""
        with self._read() as s:
            query = select(TerminalRow.record_json).order_by(TerminalRow.terminal_id)
            if country is not None:
                query = query.where(TerminalRow.country == country)
            return [dict(json.loads(text)) for text in s.execute(query).scalars()]

    def delete_terminal(self, terminal_id: str, *, operator: str, reason: str) -> int:
        """Remove a terminal (logged); returns the log entry's index."""
        with self._write() as uow:
            s, now = uow.session, uow.now
            if s.get(TerminalRow, terminal_id) is None:
                raise NotFoundError(f"no terminal {terminal_id!r} to delete")
            self._touch_operator(s, operator, now)
            index = uow.appender.append(
                "terminal.delete",
                {"terminal_id": terminal_id},
                author=operator,
                reason=reason,
                now=now,
            )
            s.execute(delete(TerminalRow).where(TerminalRow.terminal_id == terminal_id))
            return index

    def operators(self) -> list[str]:
        """Names of every operator who has changed something, sorted."""
        with self._read() as s:
            return list(s.execute(select(OperatorRow.name).order_by(OperatorRow.name)).scalars())


def _summary(document: dict[str, Any], digest: str) -> str:
    for key in ("summary", "description", "name", "title"):
        value = document.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return f"policy document {digest[:12]}"


def _check_terminal(record: Any) -> tuple[str, dict[str, Any], str]:
    if not isinstance(record, dict):
        raise InputError(f"a terminal record is a dict, not {type(record).__name__}")
    terminal_id = record.get("id")
    if not isinstance(terminal_id, str) or not terminal_id.strip():
        raise InputError(
            "a terminal record needs a non-empty string 'id', e.g. {'id': 'UT-0001', ...}"
        )
    if not isinstance(record.get("whitelists", []), list):
        raise InputError(f"terminal {terminal_id}: 'whitelists' must be a list of names")
    if not isinstance(record.get("speed_exempt", False), bool):
        raise InputError(f"terminal {terminal_id}: 'speed_exempt' must be true or false")
    return terminal_id, record, canonical_json(record).decode("utf-8")


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _to_naive(value: np.datetime64 | datetime | str) -> datetime:
    from skyfence.timeutil import parse_time

    t = parse_time(value)
    if np.isnat(t):
        raise InputError("time is NaT; give an ISO 8601 time such as 2026-02-22T12:00:00Z")
    return _naive_utc(t)


def _dt64(value: datetime | None) -> np.datetime64 | None:
    return None if value is None else np.datetime64(value, "ns")


def _pending(row: PendingChangeRow) -> PendingChange:
    return PendingChange(
        id=int(row.id),
        operator=row.created_by,
        reason=row.reason,
        created_at=np.datetime64(row.created_at, "ns"),
        expires_at=np.datetime64(row.expires_at, "ns"),
        summary=row.summary,
        status=row.status,
        document_hash=row.document_hash,
        approved_by=row.approved_by,
        decided_at=_dt64(row.decided_at),
        version=row.version,
        log_index=int(row.log_index),
    )


def _version(row: PolicyVersionRow) -> PolicyVersion:
    return PolicyVersion(
        version=int(row.version),
        applied_at=np.datetime64(row.applied_at, "ns"),
        operator=row.operator,
        approved_by=row.approved_by,
        reason=row.reason,
        document_hash=row.document_hash,
        change_id=int(row.change_id),
        log_index=int(row.log_index),
    )
