"""Policy changes as users run them: propose, approve, reject, rebase, show, history.

Each function takes the :class:`~skyfence.app.context.App`, the acting
:class:`~skyfence.app.identity.Principal` and typed arguments, and returns typed results.
Whether a change is sensitive, whether it is stale, and whether its approver is a second
person are decided by the store inside its write transaction (see
:mod:`skyfence.store.changes`) — not here, and not by any caller.

Examples
--------
>>> from skyfence.app import App
>>> from skyfence.app.identity import Principal
>>> from skyfence.settings import load_settings
>>> import tempfile
>>> app = App(load_settings(data_dir=tempfile.mkdtemp()))
>>> alice = Principal.local("alice", os_user="alice")
>>> doc = {"rules": [{"id": "pl", "region": "PL", "state": "active"}]}
>>> propose(app, alice, doc, reason="start").status
'applied'
>>> [v.version for v in history(app, alice)]
[1]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store, resolver
from skyfence.errors import PermissionDeniedError
from skyfence.store.changes import DEFAULT_EXPIRES_AFTER_S, ChangeResult

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.policy import Policy, PolicyDiff
    from skyfence.store import PendingChange, PolicyVersion

__all__ = [
    "PendingDetail",
    "PolicyView",
    "PreparedChange",
    "prepare_change",
    "propose",
    "approve",
    "reject",
    "rebase",
    "pending",
    "show_pending",
    "history",
    "policy_in_force",
    "store_settings",
    "set_store_setting",
    "sealed_document",
    "VersionDetail",
    "policy_version",
    "list_changes",
]


def sealed_document(policy: Policy, app: App) -> dict[str, Any]:
    """The document stored for ``policy``: everything that decides, and nothing read later.

    Regions read from external files are embedded, and the hash of every region's geometry
    (built-in countries included) recorded, by :func:`skyfence.policy.seal_document`: a
    region file edited after the apply, or new boundary data, cannot move an area unnoticed
    (see docs/security.md).
    """
    from skyfence.policy import seal_document

    sealed: dict[str, Any] = seal_document(policy.to_document(), resolve=resolver(app))
    return sealed


def _sealed(policy: Policy, app: App, label: str) -> Policy:
    """``policy`` sealed (see :func:`sealed_document`), after refusing one whose document
    would not read back identically: that check makes ``policy`` the policy its document
    reads as, so it is sealed as it is, not parsed from its document again. The store
    validates and reads back the sealed form again before it keeps it."""
    from skyfence.policy import seal_policy
    from skyfence.store.rules import prepare_document

    prepare_document(policy, source=label)  # refuses what would not read back identically
    return seal_policy(policy, resolve=resolver(app))


def _policy_from(app: App, source: Policy | Mapping[str, Any] | str | Path) -> Policy:
    from skyfence.policy import Policy, load_policy

    if isinstance(source, Policy):
        return source
    if isinstance(source, Mapping):
        return Policy.from_document(
            dict(source), source="the policy document", resolve=resolver(app)
        )
    return load_policy(source, resolve=resolver(app))


@dataclass(frozen=True)
class PreparedChange:
    """A change as the store would record it, and the text its requester signs.

    ``document`` is the sealed, stored form of the policy; ``document_hash`` the SHA-256 of
    its canonical JSON; ``message`` the bytes of
    :func:`skyfence.store.approvals.approval_message` for it."""

    origin: str
    base_version: int
    document: dict[str, Any]
    document_hash: str
    message: bytes


def prepare_change(
    app: App,
    principal: Principal,
    source: Policy | Mapping[str, Any] | str | Path,
    *,
    base_version: int | None = None,
) -> PreparedChange:
    """What :func:`propose` would record for ``source`` (nothing is written): a remote client
    signs ``message`` (after checking ``document`` is what it sent, and hashing it itself)
    and proposes ``document`` with the signature."""
    from skyfence.store.approvals import approval_message
    from skyfence.store.canonical import canonical_hash
    from skyfence.store.rules import prepare_document

    principal.require("change the policy", "operator")
    label = str(source) if isinstance(source, str | Path) else "the policy"
    stored, _ = prepare_document(_sealed(_policy_from(app, source), app, label), source=label)
    digest = canonical_hash(stored)
    with open_store(app) as store:
        base = store.state().policy_version if base_version is None else base_version
        origin = store.log.origin
    return PreparedChange(origin, base, stored, digest, approval_message(origin, base, digest))


def propose(
    app: App,
    principal: Principal,
    source: Policy | Mapping[str, Any] | str | Path,
    *,
    reason: str,
    base_version: int | None = None,
    request_review: bool = False,
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
    sign_with: str | Path | None = None,
    signed: tuple[bytes, bytes] | None = None,
) -> ChangeResult:
    """Apply a policy, or request it when the change is sensitive (or review is asked for).

    ``sign_with`` is the principal's own Ed25519 private key file (PEM): the request is
    signed with it (see :mod:`skyfence.store.approvals`); its public key must be registered.
    ``signed`` is ``(public key, signature)`` made by a remote client over the message of
    :func:`prepare_change`; the store checks it against the change it records.

    ``source`` is a policy, a document or a file. ``base_version`` is the version the change
    was built on; if another version is in force by the time the store applies it, it is
    refused with what changed since. Without it the change asserts no version: it is judged
    against, and replaces, the version in force when the store writes it (a signed change
    names the version in force when called: the signature covers it).
    """
    from skyfence.store.rules import prepare_document

    principal.require("change the policy", "operator")
    label = str(source) if isinstance(source, str | Path) else "the policy"
    sealed = _sealed(_policy_from(app, source), app, label)
    with open_store(app) as store:
        base = base_version
        if base is None and (sign_with is not None or signed is not None):
            base = store.state().policy_version  # what the signature covers
        if sign_with is not None and base is not None:
            from skyfence.store.approvals import approval_message
            from skyfence.store.canonical import canonical_hash

            stored, _ = prepare_document(sealed, source=label)
            message = approval_message(store.log.origin, base, canonical_hash(stored))
            signed = sign_change(sign_with, message)
        return store.apply_policy(
            sealed,  # the store validates, reads back and keeps its document
            actor=principal.actor(),
            reason=reason,
            base_version=base,
            expires_after_s=expires_after_s,
            request_review=request_review,
            signed=signed,
        )


def sign_change(key_file: str | Path, message: bytes) -> tuple[bytes, bytes]:
    """``(public key, signature)`` of ``message`` by the Ed25519 private key in ``key_file``
    (see :func:`skyfence.store.approvals.sign_change`)."""
    from skyfence.store.approvals import sign_change as sign

    return sign(key_file, message)


def register_key(app: App, principal: Principal, public_key: str | bytes, *, reason: str) -> int:
    """Register the principal's own Ed25519 public key for signed requests and approvals."""
    principal.require("register a signing key", "operator", "approver")
    with open_store(app) as store:
        return store.register_key(public_key, actor=principal.actor(), reason=reason)


def approve(
    app: App,
    principal: Principal,
    change_id: int,
    *,
    reason: str = "",
    sign_with: str | Path | None = None,
    signed: tuple[bytes, bytes] | None = None,
) -> ChangeResult:
    """Approve a pending change (never one the principal requested or rebased).

    ``sign_with`` (a private key file) or ``signed`` (``(public key, signature)`` made by a
    remote client over :func:`skyfence.store.approvals.approval_message`) signs the approval
    with the principal's own registered key."""
    principal.require("approve a change", "approver")
    with open_store(app) as store:
        if sign_with is not None:
            from skyfence.store.approvals import approval_message

            request = store.change_request(change_id)
            message = approval_message(
                store.log.origin, request.base_version, request.document_hash
            )
            signed = sign_change(sign_with, message)
        return store.approve(change_id, actor=principal.actor(), reason=reason, signed=signed)


def reject(app: App, principal: Principal, change_id: int, *, reason: str = "") -> int:
    """Reject a pending change: an approver, or its requester withdrawing it. Log index."""
    with open_store(app) as store:
        if not principal.may("approver"):
            request = store.change_request(change_id)
            names = {r.get("name") for r in request.requesters}
            if principal.name not in names:
                raise PermissionDeniedError(
                    f"{principal.display_name} may not reject change {change_id}: only an "
                    "approver, or the person who requested it, may"
                )
        return store.reject(change_id, actor=principal.actor(), reason=reason)


def rebase(
    app: App,
    principal: Principal,
    change_id: int,
    *,
    reason: str = "",
    expires_after_s: float = DEFAULT_EXPIRES_AFTER_S,
) -> ChangeResult:
    """Re-apply a stale pending change on the version in force, as a new pending change."""
    principal.require("rebase a change", "operator")
    with open_store(app) as store:
        return store.rebase(
            change_id, actor=principal.actor(), reason=reason, expires_after_s=expires_after_s
        )


def pending(app: App, principal: Principal) -> list[PendingChange]:
    """Changes waiting for a second person, oldest first."""
    principal.require("read changes", "viewer")
    with open_store(app) as store:
        return store.pending_changes()


@dataclass(frozen=True)
class PendingDetail:
    """A change as an approver needs to see it.

    ``document`` is the full document the change would make the policy, as its logged
    request records it; ``diff`` is against the version it was built on
    (``base_version``); when another version is in force now (``stale``),
    ``since_base`` is what changed since and ``against_current`` what approving would do to
    the version in force.
    """

    change: PendingChange
    document: dict[str, Any]
    base_version: int
    current_version: int
    requesters: list[dict[str, Any]]
    diff: PolicyDiff
    stale: bool
    since_base: PolicyDiff | None = None
    against_current: PolicyDiff | None = None
    judgement: dict[str, Any] = field(default_factory=dict)


def show_pending(app: App, principal: Principal, change_id: int) -> PendingDetail:
    """The full document of a change and its diff (see :class:`PendingDetail`)."""
    from skyfence.policy import Policy, diff_policies

    principal.require("read changes", "viewer")
    resolve = resolver(app)
    with open_store(app) as store:
        change = store.change(change_id)
        request = store.change_request(change_id)
        current = store.state().policy_version
        base_doc = store.policy_document(request.base_version) if request.base_version else None
        current_doc = store.policy_document(current) if current else None
    new = Policy.from_document(
        request.document, source=f"change {change_id}", resolve=resolver(app)
    )
    base = (
        None
        if base_doc is None
        else Policy.from_document(base_doc, source="base version", resolve=resolver(app))
    )
    diff = diff_policies(base, new, cells=False, resolve=resolve)
    stale = request.base_version != current and change.status == "pending"
    since = against = None
    if stale and current_doc is not None:
        now = Policy.from_document(current_doc, source="policy in force", resolve=resolver(app))
        since = diff_policies(base, now, cells=False, resolve=resolve)
        against = diff_policies(now, new, cells=False, resolve=resolve)
    return PendingDetail(
        change=change,
        document=request.document,
        base_version=request.base_version,
        current_version=current,
        requesters=request.requesters,
        diff=diff,
        stale=stale,
        since_base=since,
        against_current=against,
        judgement=request.judgement,
    )


def history(app: App, principal: Principal) -> list[PolicyVersion]:
    """Every stored policy version, oldest first, each checked against the log."""
    principal.require("read the policy history", "viewer")
    with open_store(app) as store:
        return store.policy_versions()


@dataclass(frozen=True)
class PolicyView:
    """The stored version in force at a time: its number, since when, and the policy."""

    version: int
    applied_at: Any
    policy: Policy


def policy_in_force(app: App, principal: Principal, at: Any = None) -> PolicyView | None:
    """The version in force at ``at`` (default now), checked against the log, or ``None``."""
    from skyfence.policy import Policy

    principal.require("read the policy", "viewer", "terminal-gateway")
    with open_store(app) as store:
        found = store.policy_in_force(at)
    if found is None:
        return None
    policy = Policy.from_document(
        found.document, source=f"policy version {found.version}", resolve=resolver(app)
    )
    return PolicyView(found.version, found.applied_at, policy)


def store_settings(app: App, principal: Principal) -> dict[str, bool]:
    """The store's settings as its log records them."""
    principal.require("read the settings", "viewer")
    with open_store(app) as store:
        return store.settings()


def set_store_setting(
    app: App, principal: Principal, name: str, value: bool, *, reason: str
) -> int:
    """Change a store setting (admins only; logged). Returns the log index."""
    principal.require("change store settings", "admin")
    with open_store(app) as store:
        return store.set_setting(name, value, actor=principal.actor(), reason=reason)


@dataclass(frozen=True)
class VersionDetail:
    """One stored policy version with its document (checked against the log)."""

    version: PolicyVersion
    document: dict[str, Any]


def policy_version(app: App, principal: Principal, version: int) -> VersionDetail:
    """Policy version ``version`` and its document; ``NotFoundError`` when there is none."""
    from skyfence.errors import NotFoundError

    principal.require("read the policy history", "viewer")
    with open_store(app) as store:
        document = store.policy_document(version)
        for v in store.policy_versions():
            if v.version == version:
                return VersionDetail(v, document)
    raise NotFoundError(f"no policy version {version}")  # pragma: no cover - checked above


def list_changes(app: App, principal: Principal, status: str | None = None) -> list[PendingChange]:
    """Changes with ``status`` (pending: waiting and not past expiry), oldest first."""
    principal.require("read changes", "viewer")
    with open_store(app) as store:
        if status == "pending":
            return store.pending_changes()
        return store.changes(status)
