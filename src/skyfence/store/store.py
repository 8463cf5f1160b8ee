"""The store: policy versions, the two-person rule, terminals, and the transparency log.

Every public call is one database transaction, and every state change appends a log entry in
that same transaction — the last one carrying the state the transaction leaves — and signs a
checkpoint of the new head, so the log and the state can never disagree: a crash or an error
mid-call leaves the previous state.

The tables are a cache of what the log attests. A writer authenticates the log head (the
latest checkpoint's signature, the entries under it) and checks the rows it builds on against
the attested state; a reader does the same before returning what decides (the policy in
force, the terminal registry). A table edited outside skyfence is refused, not used.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from skyfence.errors import ConfigurationError, InputError, IntegrityError, NotFoundError
from skyfence.store import approvals as _approvals
from skyfence.store import changes as _changes
from skyfence.store import registry as _registry
from skyfence.store._time import iso_utc, naive_utc
from skyfence.store.approvals import KeyRegistry
from skyfence.store.c2sp import DEFAULT_ORIGIN
from skyfence.store.changes import DEFAULT_EXPIRES_AFTER_S, ChangeResult, Request
from skyfence.store.db import READ_ONLY, make_engine, open_schema
from skyfence.store.head import (
    Head,
    authenticated_entries,
    latest_signed,
    read_head,
    read_marker,
)
from skyfence.store.identity import SYSTEM, Actor, as_actor
from skyfence.store.keys import KeyDirectory
from skyfence.store.models import LogHeadRow, OperatorRow, PendingChangeRow, PolicyVersionRow
from skyfence.store.rules import default_resolver, read_policy
from skyfence.store.state import DEFAULT_SETTINGS, StoreState
from skyfence.store.tlog import TransparencyLog, _Appender, _UnitOfWork
from skyfence.store.versions import (
    PendingChange,
    PolicyInForce,
    PolicyVersion,
    _pending,
    _version,
)

if TYPE_CHECKING:
    from skyfence.store.verify import VerifyReport

__all__ = [
    "Store",
    "ChangeResult",
    "ApplyResult",
    "PendingChange",
    "PolicyVersion",
    "PolicyInForce",
    "Request",
]

ApplyResult = ChangeResult
HINT = "run `skyfence log verify --database` for the details"


@dataclass
class _Cache:
    """The head this process last committed, and what it knows to be true of it."""

    size: int
    root: bytes
    frontier: list[tuple[int, bytes]]
    state: StoreState


class Store:
    """Policy versions, pending changes, terminals and the transparency log, in one database.

    Open with :meth:`Store.open`. ``store.log`` is the :class:`TransparencyLog`.

    Examples
    --------
    >>> import tempfile
    >>> keys = tempfile.mkdtemp()
    >>> store = Store.open("sqlite://", key_dir=keys)  # in memory; keys in a temp dir
    >>> doc = {"rules": [{"id": "pl", "region": "PL", "state": "active"}]}
    >>> store.apply_policy(doc, actor="alice", reason="start", base_version=0).status
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
        resolve: Callable[[str], Any] | None = None,
        require_distinct_os_users: bool | None = None,
        log_origin: str | None = None,
    ) -> None:
        self._engine = engine
        self._read_engine = engine.execution_options(**{READ_ONLY: True})
        self._clock: Callable[[], Any] = clock or (lambda: datetime.now(UTC))
        self.key_dir = Path(key_dir)
        self._keys = KeyDirectory(self.key_dir)
        self._resolver = resolve
        settings = dict(DEFAULT_SETTINGS)
        if require_distinct_os_users is not None:
            settings["require_distinct_os_users"] = bool(require_distinct_os_users)
        self._initial = StoreState(settings=settings)
        self._explicit_setting = require_distinct_os_users
        self._cache: _Cache | None = None
        self._policies: dict[str, Any] = {}
        self._policies_lock = threading.Lock()
        self._key_registry = KeyRegistry()
        self.log = TransparencyLog(
            engine,
            self._read_engine,
            self._keys,
            self._now,
            self._write,
            origin=log_origin or DEFAULT_ORIGIN,
        )

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        settings: Any = None,
        clock: Callable[[], Any] | None = None,
        key_dir: str | Path | None = None,
        resolve: Callable[[str], Any] | None = None,
        require_distinct_os_users: bool | None = None,
        log_origin: str | None = None,
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
        resolve
            ``expression -> Region`` used to judge whether a change overlaps a sensitive
            region; default: the built-in worldview, loaded on first use.
        require_distinct_os_users
            The setting a *new* store starts with (default on); an existing store keeps the
            value its log records, and a different value here is refused.
        log_origin
            The origin line of the log's C2SP checkpoints (and the name of its key); default
            ``settings.log_origin`` (``skyfence.local/policy-log``). A new origin is logged
            with the first checkpoint signed under it.
        """
        if settings is None and (url is None or key_dir is None):
            from skyfence.settings import load_settings

            settings = load_settings()
        resolved = url if url is not None else settings.resolved_database_url()
        engine = make_engine(resolved)
        open_schema(engine)
        keys = Path(key_dir) if key_dir is not None else Path(settings.data_dir) / "keys"
        return cls(
            engine,
            key_dir=keys,
            clock=clock,
            resolve=resolve,
            require_distinct_os_users=require_distinct_os_users,
            log_origin=log_origin or getattr(settings, "log_origin", None),
        )

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

    def _resolve(self, expr: str) -> Any:
        if self._resolver is None:
            self._resolver = default_resolver()
        return self._resolver(expr)

    # -- transactions -----------------------------------------------------------------------
    def _now(self) -> datetime:
        return naive_utc(self._clock())

    def _authenticated(self, conn: Any, size: int, **kw: Any) -> Head:
        head = read_head(
            conn, self._keys, size=size, initial=self._initial, **self.log.origin_help(), **kw
        )
        explicit = self._explicit_setting
        if (
            head.size
            and explicit is not None
            and head.state.setting("require_distinct_os_users") != explicit
        ):
            raise ConfigurationError(
                "this store's log records require_distinct_os_users="
                f"{head.state.setting('require_distinct_os_users')}; change it with "
                "`skyfence policy settings` (logged) rather than when opening the store"
            )
        return head

    @contextmanager
    def _write(
        self, *, checkpoint: bool = True, accept_unsigned: bool = False
    ) -> Iterator[_UnitOfWork]:
        """One write transaction: lock the log head, authenticate it, yield, append, sign."""
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            size, head_root = session.execute(_LOCK_HEAD).one()
            size, head_root = int(size), bytes(head_root)
            cache = self._cache
            if cache is not None and (cache.size, cache.root) == (size, head_root):
                frontier, state, root = cache.frontier, cache.state, cache.root
            else:
                head = self._authenticated(
                    session.connection(), size, accept_unsigned=accept_unsigned
                )
                frontier, state, root = head.frontier, head.state, head.root
            appender = _Appender(session, size, frontier=frontier)
            uow = _UnitOfWork(session, appender, self._now(), state, root)
            if size == 0:
                self._log_initial_settings(uow)
            yield uow
            sign = checkpoint and appender.size > appender.start_size
            self.log._finish(uow, sign=sign)
            done = _Cache(appender.size, appender.root(), list(appender.frontier), uow.state)
        self._cache = done

    def _log_initial_settings(self, uow: _UnitOfWork) -> None:
        """A new store opened with non-default settings records them as its first entries."""
        for name, value in sorted(self._initial.settings.items()):
            if value != DEFAULT_SETTINGS[name]:
                uow.appender.append(
                    "store.setting",
                    {"name": name, "value": value, "previous": DEFAULT_SETTINGS[name]},
                    author=SYSTEM.name,
                    reason="setting chosen when the store was created",
                    now=uow.now,
                )

    def _read(self) -> Session:
        return Session(self._read_engine)

    def _head(self, session: Session) -> Head:
        size = int(session.execute(select(LogHeadRow.tree_size)).scalar_one())
        return self._authenticated(session.connection(), size)

    def _known_head(self, session: Session) -> Head:
        """The head as :meth:`_head` authenticates it, or the one this process already
        authenticated (or wrote) while the head row still reads its ``(tree_size,
        root_hash)``: the same head, so the same state, root and frontier (every write
        signs its head, so ``signed_size`` is its size)."""
        seen = self._cache
        if seen is not None and self.head_marker() == (seen.size, seen.root):
            return Head(seen.size, seen.root, list(seen.frontier), seen.state, seen.size)
        head = self._head(session)
        if seen is None or head.size >= seen.size:
            self._cache = _Cache(head.size, head.root, list(head.frontier), head.state)
        return head

    def head_marker(self, *, fresh: bool = False) -> tuple[int, bytes]:
        """The log head row as it is now, ``(tree_size, root_hash)``, *not* authenticated:
        a cheap way to tell whether anything was written since a head that was.

        One statement on a pooled driver connection, without SQLAlchemy's execution layer:
        a single ``SELECT`` is atomic by itself (SQLite runs it in autocommit; on PostgreSQL
        the connection is switched to autocommit for it, so the pool sends no ``ROLLBACK``).

        Inside :meth:`same_head` the row is read once, on the first call, and every later
        call in the block (the token check, the policy snapshot, :meth:`state`) answers from
        that read, unless ``fresh``.
        """
        pinned = _PINNED.get()
        if pinned is not None and pinned[0] is self and not fresh:
            if pinned[1] is None:
                pinned[1] = self._read_head_marker()
            marker: tuple[int, bytes] = pinned[1]
            return marker
        return self._read_head_marker()

    @contextmanager
    def same_head(self) -> Iterator[None]:
        """One read of the log head row for everything done in the block (one request).

        A request asks "has the head moved?" once for its token and once for the policy in
        force; on PostgreSQL each is a round trip to the server. Within the block both
        compare against the head as it was at the block's first read, so the request is
        answered as of that instant: exactly what a request answered a moment earlier
        would have been. Whatever is reused is still what was authenticated at that head;
        a cache is only *filled* after a ``fresh`` read shows the head did not move.
        The pin is per context (thread or task), so concurrent requests do not share it.
        """
        token = _PINNED.set([self, None])
        try:
            yield
        finally:
            _PINNED.reset(token)

    def _read_head_marker(self) -> tuple[int, bytes]:
        return read_marker(self._engine)

    def latest_signed(self) -> tuple[int, str] | None:
        """``(tree_size, root_hash hex)`` of the latest signed checkpoint, as
        ``log.latest_checkpoint()`` gives them, without building its note (one query)."""
        with self._read_engine.connect() as conn:
            return latest_signed(conn)

    def state(self) -> StoreState:
        """The state the log attests now, after checking the log head (see the module doc).

        A head this process has already authenticated (or written) is not authenticated
        again: while the head row still reads ``(tree_size, root_hash)`` of that head, its
        state is the one found then (one ``SELECT`` instead of reading and checking the
        signed checkpoint, the Merkle nodes and the last entry)."""
        with self._read() as s:
            return self._known_head(s).state

    def check_state(self) -> StoreState:
        """Check that the policy in force and the terminal registry in the tables are what
        the log attests; :class:`~skyfence.errors.IntegrityError` says why when not."""
        with self._read() as s:
            head = self._head(s)
            self._current_row(s, head)
            _registry.check_registry(_registry.load_registry(s), head.state)
            return head.state

    # -- policy changes ---------------------------------------------------------------------
    def apply_policy(
        self,
        document: Any,
        *,
        actor: Actor | str,
        reason: str,
        base_version: int | None,
        expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
        summary: str | None = None,
        request_review: bool = False,
        signed: tuple[bytes, bytes] | None = None,
    ) -> ChangeResult:
        """Apply a policy document now, or — when the change is sensitive — request it.

        The store validates the document, then, inside its write transaction, refuses it if
        ``base_version`` is not the version in force (compare-and-swap: the message lists
        what changed since), and judges it against that version: a sensitive change becomes
        a pending request that a second, different person must :meth:`approve` within
        ``expires_after_s`` seconds; any other change is applied at once (or requested, with
        ``request_review``). ``actor`` is an :class:`~skyfence.store.identity.Actor` or a
        name (a local library caller). ``base_version=None`` asserts no version: the change
        is judged against, and replaces, the version in force inside that transaction (a
        signed change must name its version).
        """
        return _changes.apply_policy(
            self,
            document,
            actor=as_actor(actor),
            reason=reason,
            base_version=base_version,
            expires_after_s=expires_after_s,
            summary=summary,
            request_review=request_review,
            signed=signed,
        )

    def parsed_policy(self, digest: str | None, document: Any, *, source: str) -> Any:
        """``document`` as a ``Policy`` (:func:`skyfence.store.rules.read_policy`), reused for
        the same ``digest``: the SHA-256 of the canonical text ``document`` was read from,
        which the caller has checked against the log. A policy is immutable and reading the
        same text gives the same policy, so each stored version is validated (and its seal
        checked) once per process instead of once per change judged against it."""
        found = self._policies.get(digest) if digest is not None else None
        if found is None:
            found = read_policy(document, source=source)
            self.remember_policy(digest, found)
        return found

    def remember_policy(self, digest: str | None, policy: Any) -> None:
        """Keep ``policy``, just validated and read back from the canonical text whose
        SHA-256 is ``digest``, for :meth:`parsed_policy` (the last few only)."""
        if digest is None:
            return
        with self._policies_lock:
            if len(self._policies) >= _KEPT_POLICIES and digest not in self._policies:
                self._policies.pop(next(iter(self._policies)))
            self._policies[digest] = policy

    def approver_keys(self, conn: Any, size: int) -> KeyRegistry:
        """The principals' registered signing keys (read from the log up to ``size``)."""
        self._key_registry.refresh(conn, size)
        return self._key_registry

    def register_key(self, public_key: str | bytes, *, actor: Actor | str, reason: str) -> int:
        """Log ``actor``'s own Ed25519 public key for signed approvals; the log index."""
        return _approvals.register_key(self, public_key, actor=as_actor(actor), reason=reason)

    def approve(
        self,
        change_id: int,
        *,
        actor: Actor | str,
        reason: str = "",
        signed: tuple[bytes, bytes] | None = None,
    ) -> ChangeResult:
        """Approve a pending change: it becomes the policy version in force from now.

        Raises
        ------
        PermissionDeniedError
            ``actor`` requested (or rebased) the change — names are compared normalised —
            or acts from the requester's OS account while ``require_distinct_os_users`` is on.
        ConflictError
            The change is not pending any more, has expired (it is then marked expired,
            logged, and never takes effect), or another version was applied since it was
            requested (rebase it).
        NotFoundError
            No change has this id.
        IntegrityError
            The change's row is not the request the log records.
        """
        return _changes.approve(
            self, change_id, actor=as_actor(actor), reason=reason, signed=signed
        )

    def reject(self, change_id: int, *, actor: Actor | str, reason: str = "") -> int:
        """Reject a pending change (logged); returns the log index."""
        return _changes.reject(self, change_id, actor=as_actor(actor), reason=reason)

    def rebase(
        self,
        change_id: int,
        *,
        actor: Actor | str,
        reason: str = "",
        expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
    ) -> ChangeResult:
        """Re-apply a pending change built on an older version onto the version in force.

        The result is a new pending change (its sensitivity judged against the version in
        force) that a person other than the requesters must approve; the old change is
        marked ``superseded``. :class:`~skyfence.errors.ConflictError` when both changed the
        same rule differently.
        """
        return _changes.rebase(
            self, change_id, actor=as_actor(actor), reason=reason, expires_after_s=expires_after_s
        )

    def expire_overdue(self) -> list[int]:
        """Mark every pending change past its expiry as expired (logged); their ids."""
        return _changes.expire_overdue(self)

    # -- reading changes --------------------------------------------------------------------
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
        valid = ("pending", "applied", "rejected", "expired", "superseded")
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

    def _change_row(self, s: Session, change_id: int) -> PendingChangeRow:
        try:
            key = int(change_id)
        except (TypeError, ValueError):
            raise InputError(f"a change id is a whole number, got {change_id!r}") from None
        row = s.get(PendingChangeRow, key)
        if row is None:
            raise NotFoundError(
                f"no change {change_id}; list pending changes with `skyfence policy pending`"
            )
        return row

    def change_request(self, change_id: int) -> Request:
        """The request of a change as the log records it (document, base version,
        requesters, judgement), checked against the signed log and the table row."""
        with self._read() as s:
            head = self._head(s)
            row = self._change_row(s, change_id)
            appender = _Appender(s, head.size, head.frontier)
            uow = _UnitOfWork(s, appender, self._now(), head.state, head.root)
            return _changes.request_of(uow, row)

    def change_document(self, change_id: int) -> dict[str, Any]:
        """The policy document a change carries (as its logged request records it)."""
        return self.change_request(change_id).document

    # -- reading policy versions ------------------------------------------------------------
    def _current_row(self, s: Session, head: Head) -> PolicyVersionRow | None:
        version = head.state.policy_version
        top = s.execute(select(func.max(PolicyVersionRow.version))).scalar_one_or_none()
        if (top or 0) != version:
            raise IntegrityError(
                f"the policy_versions table ends at version {top or 0} but the log attests "
                f"version {version}: rows were added or deleted outside skyfence. {HINT}"
            )
        if version == 0:
            return None
        row = s.get(PolicyVersionRow, version)
        if row is None or _sha(row.document_json) != head.state.policy_hash:
            raise IntegrityError(
                f"policy version {version} in the table is not the one the log attests: its "
                f"document was edited outside skyfence; skyfence refuses to use it. {HINT}"
            )
        return row

    def _verified_rows(
        self, s: Session, head: Head, rows: list[PolicyVersionRow]
    ) -> list[PolicyVersionRow]:
        """``rows``, each checked against the log entry that made it (one query for all)."""
        entries = authenticated_entries(
            s.connection(), head.size, head.root, [int(r.log_index) for r in rows]
        )
        for row in rows:
            entry = entries[int(row.log_index)]
            data = entry.get("data") or {}
            if (
                entry.get("kind") not in ("policy.apply", "policy.approve")
                or data.get("version") != row.version
                or data.get("document_hash") != _sha(row.document_json)
                or row.document_hash != data.get("document_hash")
                or entry.get("time") != iso_utc(row.applied_at)
                or (
                    entry.get("kind") == "policy.approve" and row.approved_by != entry.get("author")
                )
            ):
                raise IntegrityError(
                    f"policy version {row.version} in the table is not the one the log records "
                    f"(document, time or approver edited outside skyfence); {HINT}"
                )
        return rows

    def policy_versions(self) -> list[PolicyVersion]:
        """Every applied policy version, oldest first, each checked against the log."""
        with self._read() as s:
            head = self._head(s)
            self._current_row(s, head)
            rows = list(
                s.execute(select(PolicyVersionRow).order_by(PolicyVersionRow.version)).scalars()
            )
            if [r.version for r in rows] != list(range(1, head.state.policy_version + 1)):
                raise IntegrityError(f"policy versions are missing from their table; {HINT}")
            return [_version(r) for r in self._verified_rows(s, head, rows)]

    def policy_document(self, version: int) -> dict[str, Any]:
        """The document of policy ``version`` (checked against the log)."""
        with self._read() as s:
            head = self._head(s)
            row = s.get(PolicyVersionRow, int(version))
            if row is None or not 1 <= int(version) <= head.state.policy_version:
                raise NotFoundError(
                    f"no policy version {version}; list versions with `skyfence policy history`"
                )
            self._verified_rows(s, head, [row])
            return dict(json.loads(row.document_json))

    def policy_in_force(
        self, time: np.datetime64 | datetime | str | None = None
    ) -> PolicyInForce | None:
        """The version in force at ``time`` (default now), checked against the log, or
        ``None`` before the first. What decides is refused if the tables disagree with the
        log (:class:`~skyfence.errors.IntegrityError` says which row)."""
        when = self._now() if time is None else _to_naive(time)
        with self._read() as s:
            head = self._known_head(s)  # the rows are still checked against it below
            self._current_row(s, head)
            row = s.execute(
                select(PolicyVersionRow)
                .where(PolicyVersionRow.applied_at <= when)
                .order_by(PolicyVersionRow.applied_at.desc(), PolicyVersionRow.version.desc())
                .limit(1)
            ).scalar_one_or_none()
            # the chosen version and the one after it decide what was in force: check both
            follow = (row.version + 1) if row is not None else 1
            nxt = None
            if follow <= head.state.policy_version:
                nxt = s.get(PolicyVersionRow, follow)
                if nxt is None:
                    raise IntegrityError(f"policy version {follow} is missing; {HINT}")
            self._verified_rows(s, head, [r for r in (row, nxt) if r is not None])
            if row is None:
                return None
            return PolicyInForce(
                version=int(row.version),
                document=dict(json.loads(row.document_json)),
                applied_at=np.datetime64(row.applied_at, "ns"),
                document_hash=row.document_hash,
                log_index=int(row.log_index),
            )

    def policy_document_at(
        self, time: np.datetime64 | datetime | str | None = None
    ) -> dict[str, Any] | None:
        """The policy document in force at ``time`` (default: now), or ``None`` before any."""
        found = self.policy_in_force(time)
        return None if found is None else found.document

    def policy_version_at(self, time: np.datetime64 | datetime | str | None = None) -> int | None:
        """The number of the version in force at ``time`` (default: now), or ``None``."""
        found = self.policy_in_force(time)
        return None if found is None else found.version

    # -- terminals --------------------------------------------------------------------------
    def put_terminal(self, record: dict[str, Any], *, actor: Actor | str, reason: str) -> int:
        """Create or replace the terminal ``record["id"]``; returns the log entry's index.

        The record is a JSON-able dict with a string ``id``; the store also indexes
        ``country``, ``plan``, ``whitelists`` (a list, default ``[]``) and ``speed_exempt``
        (default ``False``) when present.
        """
        return self.put_terminals([record], actor=actor, reason=reason)[0]

    def put_terminals(
        self,
        records: Iterable[dict[str, Any]],
        *,
        actor: Actor | str,
        reason: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[int]:
        """:meth:`put_terminal` for many records in one transaction (one checkpoint).

        All or nothing: one invalid record, or a process killed half-way, and none is
        stored. ``progress(done, total)`` is called as records are written. Returns the
        log indices.
        """
        who = as_actor(actor)
        records = list(records)
        for record in records:
            _registry.check_terminal(record)
        with self._write() as uow:
            _changes.touch_operator(uow, who)
            return _registry.put_terminals(
                uow, records, actor=who, reason=reason, progress=progress
            )

    def get_terminal(self, terminal_id: str) -> dict[str, Any]:
        """The record stored for ``terminal_id`` (exactly as put, checked against the log)."""
        records = self._registry()
        if terminal_id not in records:
            raise NotFoundError(
                f"no terminal {terminal_id!r} ({len(records)} terminals stored); "
                "list them with `skyfence terminal list`"
            )
        return records[terminal_id]

    def terminals(self, *, country: str | None = None) -> list[dict[str, Any]]:
        """Every terminal record (optionally of one ``country``), ordered by id, after
        checking the registry against the digest the log attests."""
        records = self._registry()
        out = [records[i] for i in sorted(records)]
        if country is not None:
            out = [r for r in out if r.get("country") == country]
        return out

    def _registry(self) -> dict[str, dict[str, Any]]:
        with self._read() as s:
            head = self._head(s)
            texts = _registry.load_registry(s)
            _registry.check_registry(texts, head.state)
            return {i: dict(json.loads(text)) for i, text in texts.items()}

    def delete_terminal(self, terminal_id: str, *, actor: Actor | str, reason: str) -> int:
        """Remove a terminal (logged); returns the log entry's index."""
        who = as_actor(actor)
        with self._write() as uow:
            _changes.touch_operator(uow, who)
            return _registry.delete_terminal(uow, terminal_id, actor=who, reason=reason)

    # -- settings ---------------------------------------------------------------------------
    def settings(self) -> dict[str, bool]:
        """The store's settings, as the log records them."""
        return dict(self.state().settings)

    def set_setting(self, name: str, value: bool, *, actor: Actor | str, reason: str) -> int:
        """Change a store setting; the change is logged (``store.setting``). Its index."""
        if name not in DEFAULT_SETTINGS:
            raise InputError(
                f"unknown store setting {name!r}; settings are: {', '.join(DEFAULT_SETTINGS)}"
            )
        if not isinstance(value, bool):
            raise InputError(f"setting {name} is true or false, got {value!r}")
        who = as_actor(actor)
        with self._write() as uow:
            previous = uow.state.setting(name)
            _changes.touch_operator(uow, who)
            index = uow.appender.append(
                "store.setting",
                {"name": name, "value": value, "previous": previous, "actor": who.record()},
                author=who.name,
                reason=reason,
                now=uow.now,
            )
            uow.state = uow.state.with_setting(name, value)
            self._explicit_setting = None
            return index

    # -- whole-store verification -----------------------------------------------------------
    def verify(self, public_key: str | bytes | None = None, **checks: Any) -> VerifyReport:
        """The log's own checks (see :meth:`TransparencyLog.verify`: ``trusted_checkpoint``,
        ``witnesses``, ``quorum``, ``signed_approvals``) plus every state table against the
        replayed log. Returns a :class:`~skyfence.store.verify.VerifyReport`."""
        from skyfence.store.audit import audit_tables
        from skyfence.store.state import Replay

        replay = Replay()
        report = self.log.verify(public_key, replay=replay, **checks)
        if not report.ok:
            return report
        with self._read() as s:
            problem = audit_tables(s, replay)
        if problem is not None:
            return replace(report, ok=False, problem=problem)
        return report

    def operators(self) -> list[str]:
        """Normalised names of everyone who has changed something, sorted."""
        with self._read() as s:
            return list(s.execute(select(OperatorRow.name).order_by(OperatorRow.name)).scalars())


_KEPT_POLICIES = 8
#: ``[store, (tree_size, root_hash) or None]`` within :meth:`Store.same_head`
_PINNED: ContextVar[list[Any] | None] = ContextVar("skyfence_store_head", default=None)
_LOCK_HEAD = (
    select(LogHeadRow.tree_size, LogHeadRow.root_hash).where(LogHeadRow.id == 1).with_for_update()
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _to_naive(value: np.datetime64 | datetime | str) -> datetime:
    from skyfence.timeutil import parse_time

    t = parse_time(value)
    if np.isnat(t):
        raise InputError("time is NaT; give an ISO 8601 time such as 2026-02-22T12:00:00Z")
    return naive_utc(t)
