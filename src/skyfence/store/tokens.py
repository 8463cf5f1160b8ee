"""API tokens: random secrets, kept only as their SHA-256, each bound to a principal and roles.

A token is ``sft_<id>_<secret>``: ``id`` (16 hex digits) names it in lists, logs and
revocations; ``secret`` is 256 random bits. The store keeps ``SHA-256(token)`` only — the
token itself is shown once, when it is made, and cannot be read back. A 256-bit secret needs
no slow hash: nobody can search its space, so one SHA-256 is the whole verifier.

Making and revoking a token are log entries (``token.create``, ``token.revoke``) in the same
transaction as the row, written by the admin who did it. The entry records the token's id,
principal, roles and expiry and a digest of the verifier (``SHA-256("skyfence token\\n" ||
hex verifier)``), never anything that would let a reader of the public log present the
token. Authenticating a token checks its row against its ``token.create`` entry (once per
process and row), so a row added or edited outside skyfence is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from skyfence.errors import AuthenticationError, InputError, IntegrityError, NotFoundError
from skyfence.store._time import iso_utc
from skyfence.store.head import authenticated_entries
from skyfence.store.identity import Actor, normalise_name
from skyfence.store.models import ApiTokenRow

if TYPE_CHECKING:
    from skyfence.store.store import Store

__all__ = [
    "TokenRecord",
    "MAX_TOKEN_LIFETIME_S",
    "create_token",
    "revoke_token",
    "list_tokens",
    "authenticate_token",
    "token_verifier",
]

PREFIX = "sft_"
MAX_TOKEN_LIFETIME_S = 3650 * 86400.0
_VERIFIED: dict[tuple[str, str], str] = {}
_MAX_VERIFIED = 10_000
# verifier -> (record, log head it was read at): reused while the head is unchanged, since
# making or revoking a token is a log entry and moves the head
_RECENT: dict[tuple[str, str], tuple[TokenRecord, tuple[int, bytes]]] = {}


@dataclass(frozen=True)
class TokenRecord:
    """What the store knows of a token (never its secret)."""

    token_id: str
    principal: str
    display_name: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    log_index: int

    def state_at(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


def token_verifier(token: str) -> str:
    """Hex SHA-256 of the token text: what the store keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _logged_digest(verifier: str) -> str:
    return hashlib.sha256(b"skyfence token\n" + verifier.encode("ascii")).hexdigest()


def _record(row: ApiTokenRow) -> TokenRecord:
    return TokenRecord(
        token_id=row.token_id,
        principal=row.principal,
        display_name=row.display_name,
        roles=list(json.loads(row.roles)),
        created_at=row.created_at,
        expires_at=row.expires_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        log_index=int(row.log_index),
    )


def _check_roles(roles: Sequence[str]) -> list[str]:
    if isinstance(roles, str) or not roles:
        raise InputError("a token needs at least one role, e.g. --role viewer")
    out = sorted({str(r) for r in roles})
    for role in out:
        if not role or len(role) > 64:
            raise InputError(f"role {role!r} is not a role name")
    return out


def create_token(
    store: Store,
    *,
    principal: str,
    roles: Sequence[str],
    expires_after_s: float,
    actor: Actor,
    reason: str,
) -> tuple[TokenRecord, str]:
    """Make a token for ``principal`` with ``roles``, valid for ``expires_after_s`` seconds.

    Returns the record and the token text — the only time it is available.
    """
    name = normalise_name(principal, what="principal")
    display = " ".join(str(principal).split())
    role_list = _check_roles(roles)
    try:
        lifetime = float(expires_after_s)
    except (TypeError, ValueError):
        raise InputError(
            f"a token's lifetime is a number of seconds, got {expires_after_s!r}"
        ) from None
    if not (0 < lifetime <= MAX_TOKEN_LIFETIME_S):
        raise InputError(
            f"a token's lifetime must be between 1 second and 3650 days, got {lifetime:g} s"
        )
    token_id = secrets.token_hex(8)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    verifier = token_verifier(token)
    with store._write() as uow:
        from skyfence.store.changes import touch_operator

        touch_operator(uow, actor)
        expires_at = uow.now + timedelta(seconds=lifetime)
        data = {
            "token_id": token_id,
            "principal": name,
            "display_name": display,
            "roles": role_list,
            "expires_at": iso_utc(expires_at),
            "verifier_digest": _logged_digest(verifier),
            "actor": actor.record(),
        }
        index = uow.appender.append(
            "token.create", data, author=actor.name, reason=reason, now=uow.now
        )
        row = ApiTokenRow(
            token_id=token_id,
            token_hash=verifier,
            principal=name,
            display_name=display,
            roles=json.dumps(role_list),
            created_at=uow.now,
            expires_at=expires_at,
            created_by=actor.name,
            revoked_at=None,
            revoked_by=None,
            log_index=index,
        )
        uow.session.add(row)
        uow.session.flush()
        record = _record(row)
    return record, token


def revoke_token(store: Store, token_id: str, *, actor: Actor, reason: str) -> TokenRecord:
    """Revoke a token now (logged). Revoking a revoked token is refused (not found as active)."""
    with store._write() as uow:
        from skyfence.store.changes import touch_operator

        row = uow.session.get(ApiTokenRow, str(token_id))
        if row is None:
            raise NotFoundError(f"no token {token_id!r}; list tokens with `skyfence token list`")
        if row.revoked_at is not None:
            raise NotFoundError(
                f"token {token_id!r} was already revoked at {iso_utc(row.revoked_at)}"
            )
        touch_operator(uow, actor)
        uow.appender.append(
            "token.revoke",
            {"token_id": row.token_id, "principal": row.principal, "actor": actor.record()},
            author=actor.name,
            reason=reason,
            now=uow.now,
        )
        row.revoked_at = uow.now
        row.revoked_by = actor.name
        uow.session.flush()
        return _record(row)


def list_tokens(store: Store) -> list[TokenRecord]:
    """Every token (active, expired and revoked), oldest first."""
    with store._read() as s:
        rows = s.execute(select(ApiTokenRow).order_by(ApiTokenRow.created_at)).scalars()
        return [_record(r) for r in rows]


def _fingerprint(row: ApiTokenRow) -> str:
    return f"{row.token_hash}|{row.principal}|{row.roles}|{iso_utc(row.expires_at)}|{row.log_index}"


def authenticate_token(store: Store, token: str) -> TokenRecord:
    """The record of an active token, or :class:`~skyfence.errors.AuthenticationError`.

    The message never says whether a token exists: unknown, malformed, expired and revoked
    tokens read alike to the caller except for the reason word.
    """
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > 200:
        raise AuthenticationError("the token is not a skyfence API token (sft_...)")
    verifier = token_verifier(token)
    now = store._now()
    marker = store.head_marker()
    recent = _RECENT.get((store.url, verifier))
    if recent is not None and recent[1] == marker:
        if now >= recent[0].expires_at:
            raise AuthenticationError("the token has expired")
        return recent[0]
    with store._read() as s:
        row = s.execute(
            select(ApiTokenRow).where(ApiTokenRow.token_hash == verifier)
        ).scalar_one_or_none()
        if row is None or not hmac.compare_digest(row.token_hash, verifier):
            raise AuthenticationError("the token is unknown")
        if row.revoked_at is not None:
            raise AuthenticationError("the token was revoked")
        if now >= row.expires_at:
            raise AuthenticationError("the token has expired")
        key = (store.url, row.token_id)
        fingerprint = _fingerprint(row)
        if _VERIFIED.get(key) != fingerprint:
            _check_against_log(store, s, row)
            if len(_VERIFIED) >= _MAX_VERIFIED:
                _VERIFIED.clear()
            _VERIFIED[key] = fingerprint
        record = _record(row)
    if len(_RECENT) >= _MAX_VERIFIED:
        _RECENT.clear()
    _RECENT[(store.url, verifier)] = (record, marker)
    return record


def _check_against_log(store: Store, session: Any, row: ApiTokenRow) -> None:
    head = store._head(session)
    index = int(row.log_index)
    if not 0 <= index < head.size:
        raise IntegrityError(f"token {row.token_id} points at no log entry; it is refused")
    entry = authenticated_entries(session.connection(), head.size, head.root, [index])[index]
    data = entry.get("data") or {}
    if (
        entry.get("kind") != "token.create"
        or data.get("token_id") != row.token_id
        or data.get("principal") != row.principal
        or data.get("roles") != json.loads(row.roles)
        or data.get("expires_at") != iso_utc(row.expires_at)
        or data.get("verifier_digest") != _logged_digest(row.token_hash)
    ):
        raise IntegrityError(
            f"token {row.token_id} in the table is not the one the log records (added or "
            "edited outside skyfence); it is refused"
        )
