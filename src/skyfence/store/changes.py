"""Policy changes inside the store's write transaction: apply, request, approve, reject,
rebase and expire.

Every rule that must hold whatever the interface is enforced here, once:

* **sensitivity** is judged against the version actually being replaced, inside the write
  transaction (:func:`skyfence.store.rules.judge`); no caller passes a flag;
* **compare-and-swap**: a change names the version it was built on, and is refused — with
  what changed since — when another version is in force by the time it is applied or
  approved;
* **one person is one identity**: names are compared normalised, the requester (and
  everyone who rebased the change) cannot approve it, and an approval from the requester's
  OS account is marked ``same-os-user`` in the log, or refused when the store's
  ``require_distinct_os_users`` setting is on;
* the pending document, requester and base version are read from the **logged request**
  (checked against the signed log), never from a table someone could edit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from skyfence.errors import (
    ConflictError,
    InputError,
    IntegrityError,
    NotFoundError,
    PermissionDeniedError,
)
from skyfence.store._time import iso_utc
from skyfence.store.approvals import approval_message, check_approval, signature_record
from skyfence.store.canonical import canonical_json
from skyfence.store.head import authenticated_entries
from skyfence.store.identity import SYSTEM, Actor, normalise_name
from skyfence.store.keys import verify_signature
from skyfence.store.models import OperatorRow, PendingChangeRow, PolicyVersionRow
from skyfence.store.rules import Judgement, judge, prepare_document, rebase_document
from skyfence.store.tlog import _UnitOfWork

if TYPE_CHECKING:
    from skyfence.store.store import Store

__all__ = ["ChangeResult", "DEFAULT_EXPIRES_AFTER_S", "SAME_OS_USER"]

DEFAULT_EXPIRES_AFTER_S = 7 * 86400.0
SAME_OS_USER = "same-os-user"
HINT = "run `skyfence log verify --database` for the details"


@dataclass(frozen=True)
class ChangeResult:
    """Outcome of applying, requesting, approving or rebasing a policy change.

    ``status`` is ``"applied"`` (``version`` is the new version) or ``"pending"`` (waiting
    for a second person; ``version`` is ``None``). ``base_version`` is the version the change
    replaced or will replace (0: none); ``sensitive``/``reasons``/``changes`` are the
    judgement made inside the transaction against that version; ``flags`` holds
    ``"same-os-user"`` for an approval from the requester's OS account.
    """

    status: str
    change_id: int
    version: int | None
    log_index: int
    base_version: int = 0
    sensitive: bool = False
    reasons: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


# -- helpers -----------------------------------------------------------------------------------
def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def touch_operator(uow: _UnitOfWork, actor: Actor) -> None:
    row = uow.session.get(OperatorRow, actor.name)
    if row is None:
        uow.session.add(OperatorRow(name=actor.name, created_at=uow.now, last_seen_at=uow.now))
    else:
        row.last_seen_at = uow.now


def _entries(uow: _UnitOfWork, indices: list[int]) -> dict[int, dict[str, Any]]:
    """Entries already in the log (before this transaction), checked against its root."""
    conn = uow.session.connection()
    return authenticated_entries(conn, uow.appender.start_size, uow.start_root, indices)


def verified_version(uow: _UnitOfWork, version: int) -> tuple[PolicyVersionRow, dict[str, Any]]:
    """Version ``version``'s row and document, checked against the entry that made it."""
    row = uow.session.get(PolicyVersionRow, int(version))
    if row is None:
        raise IntegrityError(f"policy version {version} is missing from its table; {HINT}")
    entry = _entries(uow, [int(row.log_index)])[int(row.log_index)]
    data = entry.get("data") or {}
    if (
        entry.get("kind") not in ("policy.apply", "policy.approve")
        or data.get("version") != row.version
        or data.get("document_hash") != _sha(row.document_json)
        or row.document_hash != data.get("document_hash")
    ):
        raise IntegrityError(
            f"policy version {version} in the table is not the one the log records: its "
            f"document was edited outside skyfence; {HINT}"
        )
    return row, json.loads(row.document_json)


def current_document(uow: _UnitOfWork) -> dict[str, Any] | None:
    """The document of the version in force, checked against the state the log attests."""
    version = uow.state.policy_version
    if version == 0:
        return None
    row = uow.session.get(PolicyVersionRow, version)
    if row is None or _sha(row.document_json) != uow.state.policy_hash:
        raise IntegrityError(
            f"policy version {version} in the table is not the one the log attests (it was "
            f"deleted or its document edited outside skyfence); nothing is built on it. {HINT}"
        )
    return dict(json.loads(row.document_json))


def _since(uow: _UnitOfWork, base: int) -> str:
    """What changed between version ``base`` and the version in force, in one line."""
    from skyfence.policy import diff_policies
    from skyfence.store.rules import read_policy

    current = uow.state.policy_version
    try:
        old = None if base == 0 else read_policy(verified_version(uow, base)[1], source="base")
        doc = current_document(uow)
        new = read_policy(doc, source="current") if doc is not None else None
        if new is None:
            return "no version is in force"
        diff = diff_policies(old, new, cells=False, resolve=lambda _e: None)
        parts = [
            f"{c.id} {c.change}" + (f" ({', '.join(c.fields)})" if c.fields else "")
            for c in diff.changes
        ]
    except InputError as exc:  # a version that cannot be read: say so, keep the conflict
        parts = [f"(could not list them: {type(exc).__name__})"]
    rows = uow.session.execute(
        select(PolicyVersionRow.version, PolicyVersionRow.operator, PolicyVersionRow.reason)
        .where(PolicyVersionRow.version > base)
        .order_by(PolicyVersionRow.version)
    ).all()
    who = "; ".join(f"v{v} by {op}: {reason or '-'}" for v, op, reason in rows)
    what = ", ".join(parts) or "no rule changed"
    return f"versions since {base}: {who or current}; rules changed since: {what}"


def _judge(
    store: Store, uow: _UnitOfWork, policy: Any, current: dict[str, Any] | None
) -> Judgement:
    """``current`` is the version in force (:func:`current_document`: its text hashes to
    the state's ``policy_hash``), read once per process and hash (see
    :meth:`~skyfence.store.Store.parsed_policy`)."""
    label = f"policy version {uow.state.policy_version}"
    digest = uow.state.policy_hash

    def read(document: Any, *, source: str) -> Any:
        return store.parsed_policy(digest, document, source=source)

    return judge(current, policy, resolve=store._resolve, old_label=label, read=read)


# -- apply or request ----------------------------------------------------------------------------
def apply_policy(
    store: Store,
    document: Any,
    *,
    actor: Actor,
    reason: str,
    base_version: int | None,
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
    summary: str | None = None,
    request_review: bool = False,
    signed: tuple[bytes, bytes] | None = None,
) -> ChangeResult:
    if not isinstance(reason, str):
        raise InputError("reason must be a string saying why the policy changes")
    if base_version is not None and (
        isinstance(base_version, bool) or not isinstance(base_version, int) or base_version < 0
    ):
        raise InputError(
            f"base_version must be the number of the version this change was built on "
            f"(0 before the first), got {base_version!r}"
        )
    if base_version is None and signed is not None:
        raise InputError("a signed change names the version it was built on (base_version)")
    if not expires_after_s > 0:
        raise InputError(f"expires_after_s must be > 0 seconds, got {expires_after_s}")
    stored, policy = prepare_document(document)
    text = canonical_json(stored).decode("utf-8")
    digest = _sha(text)
    store.remember_policy(digest, policy)  # read back from exactly ``text`` just now
    summary = summary if summary is not None else _summary(stored, digest)
    with store._write() as uow:
        state, s, now = uow.state, uow.session, uow.now
        if base_version is not None and base_version != state.policy_version:
            raise ConflictError(
                f"this change was built on policy version {base_version}, but version "
                f"{state.policy_version} is in force now ({_since(uow, base_version)}). "
                "Check that it still says what you mean (`skyfence policy diff current FILE`) "
                f"and apply it on version {state.policy_version}"
            )
        current = current_document(uow)
        if current == stored:
            raise ConflictError(
                f"the document is identical to policy version {state.policy_version}, in force "
                "now; nothing to apply (`skyfence policy show` prints it)"
            )
        j = _judge(store, uow, policy, current)
        pending = j.sensitive or request_review
        signature = _request_signature(store, uow, actor, signed, state.policy_version, digest)
        touch_operator(uow, actor)
        change = PendingChangeRow(
            kind="policy",
            document_json=text,
            document_hash=digest,
            summary=summary,
            status="pending" if pending else "applied",
            created_by=actor.name,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(seconds=float(expires_after_s)),
            approved_by=None,
            decided_at=None if pending else now,
            decision_reason=None,
            version=None,
            log_index=-1,
            base_version=state.policy_version,
            requested_actor=json.dumps(actor.record()),
            judgement=json.dumps(j.record()),
        )
        s.add(change)
        s.flush()
        common = {
            "change_id": change.id,
            "base_version": state.policy_version,
            "document_hash": digest,
            "document": stored,
            "summary": summary,
            "actor": actor.record(),
            "judgement": j.record(),
        }
        if signature is not None:
            common["signature"] = signature
        if pending:
            index = uow.appender.append(
                "policy.request",
                {
                    **common,
                    "expires_at": iso_utc(change.expires_at),
                    "requesters": [actor.record()],
                    "review_requested": bool(request_review and not j.sensitive),
                },
                author=actor.name,
                reason=reason,
                now=now,
            )
            change.log_index = index
            return ChangeResult(
                "pending", change.id, None, index, state.policy_version, j.sensitive,
                j.reasons, j.changes,
            )  # fmt: skip
        version = state.policy_version + 1
        index = uow.appender.append(
            "policy.apply",
            {**common, "version": version},
            author=actor.name,
            reason=reason,
            now=now,
        )
        change.version, change.log_index = version, index
        s.add(
            PolicyVersionRow(
                version=version,
                document_json=text,
                document_hash=digest,
                operator=actor.name,
                approved_by=None,
                reason=reason,
                applied_at=now,
                change_id=change.id,
                log_index=index,
            )
        )
        uow.state = replace(state, policy_version=version, policy_hash=digest)
        return ChangeResult(
            "applied", change.id, version, index, state.policy_version, False, j.reasons,
            j.changes,
        )  # fmt: skip


def _summary(document: dict[str, Any], digest: str) -> str:
    for key in ("summary", "description", "name", "title"):
        value = document.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return f"policy document {digest[:12]}"


# -- the logged request behind a pending change --------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A change as the log records its request (or, for a change applied at once, its
    ``policy.apply`` entry), checked against the signed log."""

    change_id: int
    index: int
    document: dict[str, Any]
    document_hash: str
    base_version: int
    expires_at: datetime
    requesters: list[dict[str, Any]]
    rebased_from: int | None
    judgement: dict[str, Any]
    #: the ``data`` of the logged entry, as authenticated
    data: dict[str, Any] = field(default_factory=dict, repr=False)


def request_of(uow: _UnitOfWork, row: PendingChangeRow) -> Request:
    """The logged request of ``row``; refuses a row that no longer matches it."""
    if row.log_index is None or row.log_index < 0:
        raise IntegrityError(f"change {row.id} has no log entry; {HINT}")
    entry = _entries(uow, [int(row.log_index)])[int(row.log_index)]
    data = entry.get("data") or {}
    if (
        entry.get("kind") not in ("policy.request", "policy.apply")
        or (row.status == "pending" and entry.get("kind") != "policy.request")
        or data.get("change_id") != row.id
        or data.get("document_hash") != _sha(row.document_json)
        or row.document_hash != data.get("document_hash")
        or canonical_json(data.get("document")).decode("utf-8") != row.document_json
    ):
        raise IntegrityError(
            f"pending change {row.id} in the table is not the request the log records (its "
            f"document or id was edited outside skyfence); {HINT}"
        )
    requesters = data.get("requesters")
    if not isinstance(requesters, list):  # applied at once, or logged before actors were
        actor = data.get("actor")
        requesters = [
            actor
            if isinstance(actor, dict)
            else {
                "name": normalise_name(str(entry.get("author"))),
                "via": "library",
                "os_user": None,
            }
        ]
    base = data.get("base_version")
    if base is None:  # requests logged before changes recorded their base version
        base = _version_at(uow, row.created_at)
    return Request(
        change_id=int(row.id),
        index=int(row.log_index),
        document=dict(data["document"]),
        document_hash=str(data["document_hash"]),
        base_version=int(base),
        expires_at=row.expires_at if "expires_at" not in data else _parse_iso(data["expires_at"]),
        requesters=requesters,
        rebased_from=data.get("rebased_from"),
        judgement=data.get("judgement") or {},
        data=data,
    )


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def _version_at(uow: _UnitOfWork, when: datetime) -> int:
    top = uow.session.execute(
        select(PolicyVersionRow.version)
        .where(PolicyVersionRow.applied_at <= when)
        .order_by(PolicyVersionRow.version.desc())
        .limit(1)
    ).scalar_one_or_none()
    return 0 if top is None else int(top)


def change_row(uow: _UnitOfWork, change_id: int) -> PendingChangeRow:
    try:
        key = int(change_id)
    except (TypeError, ValueError):
        raise InputError(f"a change id is a whole number, got {change_id!r}") from None
    row = uow.session.get(PendingChangeRow, key)
    if row is None:
        raise NotFoundError(
            f"no change {change_id}; list pending changes with `skyfence policy pending`"
        )
    return row


def _pending_row(uow: _UnitOfWork, change_id: int, verb: str) -> PendingChangeRow:
    row = change_row(uow, change_id)
    if row.status != "pending":
        raise ConflictError(
            f"change {change_id} is {row.status}, not pending; only a pending change can be "
            f"{verb} (see `skyfence policy pending`)"
        )
    return row


# -- approve -------------------------------------------------------------------------------------
def _request_signature(
    store: Store,
    uow: _UnitOfWork,
    actor: Actor,
    signed: tuple[bytes, bytes] | None,
    base_version: int,
    digest: str,
) -> dict[str, str] | None:
    """The request's signature record after checking it is ``actor``'s registered key's."""
    if signed is None:
        return None
    public, signature = signed
    registry = store.approver_keys(uow.session.connection(), uow.appender.start_size)
    message = approval_message(store.log.origin, base_version, digest)
    if public not in registry.of(actor.name) or not verify_signature(public, signature, message):
        raise PermissionDeniedError(
            f"the request's signature is not made by a key registered to {actor.display_name} "
            "over this change; register the key first (`skyfence policy register-key`)"
        )
    return signature_record(public, signature)


def approve(
    store: Store,
    change_id: int,
    *,
    actor: Actor,
    reason: str = "",
    signed: tuple[bytes, bytes] | None = None,
) -> ChangeResult:
    expired: ConflictError | None = None
    result: ChangeResult | None = None
    with store._write() as uow:
        state, s, now = uow.state, uow.session, uow.now
        row = _pending_row(uow, change_id, "approved")
        req = request_of(uow, row)
        if now >= req.expires_at:
            expire(uow, row, triggered_by=actor)
            expired = ConflictError(
                f"change {change_id} expired at {iso_utc(req.expires_at)} before it was "
                "approved; it will never take effect. Submit it again to restart the clock"
            )
        else:
            if req.base_version != state.policy_version:
                raise ConflictError(
                    f"change {change_id} was built on policy version {req.base_version}, but "
                    f"version {state.policy_version} is in force now "
                    f"({_since(uow, req.base_version)}); approving it would undo those. Rebase "
                    f"it with `skyfence policy rebase {change_id}` and approve the result"
                )
            names = {normalise_name(str(r.get("name", ""))) for r in req.requesters}
            if actor.name in names:
                raise PermissionDeniedError(
                    f"{actor.display_name} requested change {change_id} (or rebased it) and "
                    "cannot also approve it; a second, different person must approve"
                )
            flags = []
            if (
                actor.via != "token"
                and actor.os_user is not None
                and any(
                    r.get("via") != "token" and r.get("os_user") == actor.os_user
                    for r in req.requesters
                )
            ):
                flags.append(SAME_OS_USER)
                if state.setting("require_distinct_os_users"):
                    raise PermissionDeniedError(
                        f"change {change_id} was requested from the same OS account "
                        f"({actor.os_user}) that approves it now, so no second credential is "
                        "involved; approve from another account or with an API token. (For a "
                        "single-user sandbox, `skyfence policy settings --allow-same-os-user` "
                        "turns this rule off; the switch is logged)"
                    )
            requester = str(req.data.get("actor", {}).get("name", ""))
            approval_signature = check_approval(
                store.approver_keys(uow.session.connection(), uow.appender.start_size),
                approval_message(store.log.origin, req.base_version, req.document_hash),
                requester=requester or normalise_name(row.created_by),
                request_signature=req.data.get("signature"),
                approver=actor.name,
                approval=signed,
                change_id=change_id,
            )
            touch_operator(uow, actor)
            version = state.policy_version + 1
            approval_data: dict[str, Any] = {
                "change_id": row.id,
                "version": version,
                "base_version": req.base_version,
                "document_hash": req.document_hash,
                "requested_by": row.created_by,
                "request_index": req.index,
                "actor": actor.record(),
                "flags": flags,
            }
            if approval_signature is not None:
                approval_data["signature"] = approval_signature
            index = uow.appender.append(
                "policy.approve",
                approval_data,
                author=actor.name,
                reason=reason,
                now=now,
            )
            row.status, row.approved_by, row.decided_at = "applied", actor.name, now
            row.decision_reason, row.version = reason, version
            row.decided_actor = json.dumps(actor.record())
            s.add(
                PolicyVersionRow(
                    version=version,
                    document_json=row.document_json,
                    document_hash=req.document_hash,
                    operator=row.created_by,
                    approved_by=actor.name,
                    reason=row.reason,
                    applied_at=now,
                    change_id=row.id,
                    log_index=index,
                )
            )
            uow.state = replace(state, policy_version=version, policy_hash=req.document_hash)
            j = req.judgement
            result = ChangeResult(
                "applied", row.id, version, index, req.base_version, bool(j.get("sensitive")),
                list(j.get("reasons") or []), list(j.get("changes") or []), flags,
            )  # fmt: skip
    if expired is not None or result is None:
        raise expired or ConflictError(f"change {change_id} was not applied")
    return result


# -- reject, expire ------------------------------------------------------------------------------
def reject(store: Store, change_id: int, *, actor: Actor, reason: str = "") -> int:
    with store._write() as uow:
        row = _pending_row(uow, change_id, "rejected")
        req = request_of(uow, row)
        touch_operator(uow, actor)
        index = uow.appender.append(
            "policy.reject",
            {"change_id": row.id, "document_hash": req.document_hash, "actor": actor.record()},
            author=actor.name,
            reason=reason,
            now=uow.now,
        )
        row.status, row.approved_by, row.decided_at = "rejected", actor.name, uow.now
        row.decision_reason = reason
        row.decided_actor = json.dumps(actor.record())
        return index


def expire(uow: _UnitOfWork, row: PendingChangeRow, *, triggered_by: Actor) -> None:
    uow.appender.append(
        "policy.expire",
        {
            "change_id": row.id,
            "document_hash": row.document_hash,
            "expires_at": iso_utc(row.expires_at),
            "triggered_by": triggered_by.name,
        },
        author=SYSTEM.name,
        reason=f"not approved before {iso_utc(row.expires_at)}",
        now=uow.now,
    )
    row.status, row.decided_at = "expired", uow.now


def expire_overdue(store: Store) -> list[int]:
    with store._write() as uow:
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
            expire(uow, row, triggered_by=SYSTEM)
        return [r.id for r in rows]


# -- rebase --------------------------------------------------------------------------------------
def rebase(
    store: Store,
    change_id: int,
    *,
    actor: Actor,
    reason: str = "",
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
) -> ChangeResult:
    """Re-apply a stale pending change on the version in force, as a new pending change."""
    if not expires_after_s > 0:
        raise InputError(f"expires_after_s must be > 0 seconds, got {expires_after_s}")
    with store._write() as uow:
        state, s, now = uow.state, uow.session, uow.now
        row = _pending_row(uow, change_id, "rebased")
        req = request_of(uow, row)
        if req.base_version == state.policy_version:
            raise ConflictError(
                f"change {change_id} is built on version {state.policy_version}, the one in "
                "force; there is nothing to rebase (approve or reject it)"
            )
        base = {} if req.base_version == 0 else verified_version(uow, req.base_version)[1]
        current = current_document(uow) or {}
        merged = rebase_document(base, req.document, current)
        stored, policy = prepare_document(
            merged, source=f"change {change_id} rebased onto version {state.policy_version}"
        )
        if stored == current:
            raise ConflictError(
                f"rebased onto version {state.policy_version}, change {change_id} changes "
                f"nothing: the versions since already contain it. Reject it with `skyfence "
                f"policy reject {change_id}`"
            )
        j = _judge(store, uow, policy, current or None)
        text = canonical_json(stored).decode("utf-8")
        digest = _sha(text)
        touch_operator(uow, actor)
        new = PendingChangeRow(
            kind="policy",
            document_json=text,
            document_hash=digest,
            summary=row.summary,
            status="pending",
            created_by=actor.name,
            reason=reason or row.reason,
            created_at=now,
            expires_at=now + timedelta(seconds=float(expires_after_s)),
            approved_by=None,
            decided_at=None,
            decision_reason=None,
            version=None,
            log_index=-1,
            base_version=state.policy_version,
            rebased_from=row.id,
            requested_actor=json.dumps(actor.record()),
            judgement=json.dumps(j.record()),
        )
        s.add(new)
        s.flush()
        requesters = [*req.requesters, actor.record()]
        index = uow.appender.append(
            "policy.request",
            {
                "change_id": new.id,
                "base_version": state.policy_version,
                "document_hash": digest,
                "document": stored,
                "summary": new.summary,
                "expires_at": iso_utc(new.expires_at),
                "actor": actor.record(),
                "judgement": j.record(),
                "requesters": requesters,
                "rebased_from": row.id,
            },
            author=actor.name,
            reason=new.reason,
            now=now,
        )
        new.log_index = index
        row.status, row.decided_at = "superseded", now
        row.decision_reason = f"rebased onto version {state.policy_version} as change {new.id}"
        return ChangeResult(
            "pending", new.id, None, index, state.policy_version, j.sensitive, j.reasons,
            j.changes,
        )  # fmt: skip
