"""Approvals signed by the people who approve: each principal's own Ed25519 key.

A principal registers a public key (logged as a ``principal.key`` entry, by that principal).
A policy change is then requested and approved with Ed25519 signatures, made by each
person's own private key (the client signs locally; the server never holds it), over::

    skyfence/policy-change/v1
    <log origin>
    base <policy version the change is built on>
    document <SHA-256 of the canonical document, hex>

The signatures are written into the ``policy.request`` / ``policy.apply`` and
``policy.approve`` entries. When either the request or the approval of a change is signed,
both must be, by keys registered to the requester and to the approver, and the two keys must
differ: the store refuses anything else at approval, and ``log verify --signed-approvals``
flags any sensitive change in the log whose approval lacks two such signatures. The server
can no longer invent an approval: it would need the approver's private key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from skyfence.errors import InputError, PermissionDeniedError
from skyfence.store.keys import key_id_for, verify_signature
from skyfence.store.models import LogEntryRow

__all__ = [
    "KEY_KIND",
    "approval_message",
    "KeyRegistry",
    "signature_record",
    "check_signed_approvals",
    "read_signing_key",
    "sign_change",
    "signed_from_text",
]

KEY_KIND = "principal.key"


def approval_message(origin: str, base_version: int, document_hash: str) -> bytes:
    """The bytes a requester and an approver sign for a change."""
    return (
        f"skyfence/policy-change/v1\n{origin}\nbase {int(base_version)}\ndocument {document_hash}\n"
    ).encode()


def read_signing_key(
    key_file: Any,
    *,
    what: str = "signing key",
    hint: str = "expected an unencrypted Ed25519 private key in PEM "
    "(e.g. from `openssl genpkey -algorithm ed25519`)",
) -> Any:
    """The Ed25519 private key in ``key_file`` (PEM, PKCS#8, unencrypted); a one-line
    :class:`~skyfence.errors.InputError` naming the key (``what``) and how to get a good one
    (``hint``) otherwise."""
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        private = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else exc
        raise InputError(f"cannot read the {what} {key_file} ({why}); {hint}") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InputError(f"{key_file} does not hold an Ed25519 private key")
    return private


def sign_change(key_file: Any, message: bytes) -> tuple[bytes, bytes]:
    """``(public key, signature)`` of ``message`` by the Ed25519 private key in ``key_file``
    (PEM, PKCS#8) — done where the key is (the local CLI, or a remote client), never by the
    server."""
    private = read_signing_key(key_file)
    return private.public_key().public_bytes_raw(), private.sign(message)


def signed_from_text(public_key: str, signature: str) -> tuple[bytes, bytes]:
    """``(public key, signature)`` from their base64 texts, as a remote client sends them."""
    from skyfence.store.keys import load_public_key

    public = _b64(public_key)
    if public is None or len(public) != 32:
        raise InputError("signature.public_key must be base64 of the 32-byte Ed25519 public key")
    return load_public_key(public_key), parse_signature(signature)


def signature_record(public_raw: bytes, signature: bytes) -> dict[str, str]:
    """How a signature is written into a log entry."""
    return {
        "key_id": key_id_for(public_raw),
        "signature": base64.b64encode(signature).decode(),
    }


def _b64(value: Any) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except (ValueError, binascii.Error):
        return None


class KeyRegistry:
    """Principals' registered public keys, read from the log (``principal.key`` entries)."""

    def __init__(self) -> None:
        self.keys: dict[str, list[tuple[int, bytes]]] = {}  # name -> [(entry index, raw key)]
        self.scanned = 0

    def feed(self, index: int, entry: Mapping[str, Any]) -> None:
        """Take one log entry (``principal.key`` entries register a key)."""
        if entry.get("kind") != KEY_KIND:
            return
        data = entry.get("data")
        if not isinstance(data, dict):
            return
        raw = _b64(data.get("public_key"))
        name = data.get("principal")
        if raw is not None and len(raw) == 32 and isinstance(name, str):
            self.keys.setdefault(name, []).append((index, raw))

    def refresh(self, conn: Connection, size: int) -> None:
        if size <= self.scanned:
            return
        rows = conn.execute(
            select(LogEntryRow.entry_index, LogEntryRow.entry_json)
            .where(LogEntryRow.kind == KEY_KIND)
            .where(LogEntryRow.entry_index >= self.scanned)
            .where(LogEntryRow.entry_index < size)
            .order_by(LogEntryRow.entry_index)
        )
        for index, text in rows:
            self.feed(int(index), json.loads(text))
        self.scanned = size

    def of(self, name: str, before: int | None = None) -> list[bytes]:
        """The keys registered to ``name`` (by entries before index ``before``)."""
        return [raw for i, raw in self.keys.get(name, []) if before is None or i < before]

    def signer(
        self, name: str, message: bytes, record: Any, before: int | None = None
    ) -> bytes | None:
        """The registered key of ``name`` that made the signature ``record``, or ``None``."""
        if not isinstance(record, dict):
            return None
        signature = _b64(record.get("signature"))
        if signature is None:
            return None
        for raw in self.of(name, before):
            if key_id_for(raw) == record.get("key_id") and verify_signature(
                raw, signature, message
            ):
                return raw
        return None


def register_key(store: Any, public_key: str | bytes, *, actor: Any, reason: str) -> int:
    """Log ``actor``'s own public key as a ``principal.key`` entry (see :meth:`Store.register_key`)."""
    from skyfence.store.keys import load_public_key

    raw = load_public_key(public_key)
    with store._write() as uow:
        registry = store.approver_keys(uow.session.connection(), uow.appender.start_size)
        for name, keys in registry.keys.items():
            if name != actor.name and any(k == raw for _, k in keys):
                raise PermissionDeniedError(
                    f"this key is registered to {name}; each person registers their own key"
                )
        index: int = uow.appender.append(
            KEY_KIND,
            {
                "principal": actor.name,
                "key_id": key_id_for(raw),
                "public_key": base64.b64encode(raw).decode(),
                "actor": actor.record(),
            },
            author=actor.name,
            reason=reason,
            now=uow.now,
        )
        return index


def parse_signature(signature: str | bytes) -> bytes:
    """An Ed25519 signature given as base64 text or 64 raw bytes."""
    raw = _b64(signature) if isinstance(signature, str) else bytes(signature)
    if raw is None or len(raw) != 64:
        raise InputError("a change signature is 64 bytes (Ed25519), as base64 or raw bytes")
    return raw


def check_approval(
    registry: KeyRegistry,
    message: bytes,
    *,
    requester: str,
    request_signature: Any,
    approver: str,
    approval: tuple[bytes, bytes] | None,
    change_id: int,
) -> dict[str, str] | None:
    """Apply the rules at approval; the approval's signature record, or ``None`` (unsigned).

    ``approval`` is ``(public key, signature)`` as the approver gave it.
    """
    approver_keys = registry.of(approver)
    if approval is None:
        if approver_keys:
            raise PermissionDeniedError(
                f"{approver} has a registered signing key, so their approval of change "
                f"{change_id} must be signed with it (--key FILE)"
            )
        if request_signature is not None:
            raise PermissionDeniedError(
                f"change {change_id} was requested with a signature; its approval needs a "
                "second signature by the approver's own registered key"
            )
        return None
    public, signature = approval
    if public not in approver_keys:
        raise PermissionDeniedError(
            f"the key {key_id_for(public)} is not registered to {approver}; register it first "
            "(`skyfence policy register-key`)"
        )
    if not verify_signature(public, signature, message):
        raise PermissionDeniedError(
            f"the approval signature of change {change_id} does not verify with {approver}'s key"
        )
    requested_by = registry.signer(requester, message, request_signature)
    if requested_by is None:
        raise PermissionDeniedError(
            f"change {change_id} was not requested with a valid signature by a key registered "
            f"to {requester}; a signed approval needs two signatures by distinct keys"
        )
    if requested_by == public:
        raise PermissionDeniedError(
            f"change {change_id} would be signed twice by the same key {key_id_for(public)}; "
            "two distinct people's keys must sign"
        )
    return signature_record(public, signature)


def check_signed_approvals(
    entries: Iterable[tuple[int, Mapping[str, Any]]], origins: Any, *, require: bool = True
) -> tuple[int, str] | None:
    """The first sensitive change in ``entries`` whose approval is not signed by two distinct
    registered keys: ``(entry index, why)``; ``origins(size)`` gives the log origin.

    Without ``require`` only changes whose request or approval carries a signature are
    checked (a signature that is there must be right)."""
    registry = KeyRegistry()
    requests: dict[int, tuple[int, Mapping[str, Any]]] = {}
    for index, entry in entries:
        registry.feed(index, entry)
        kind, data = entry.get("kind"), entry.get("data")
        if not isinstance(data, dict):
            continue
        if kind == "policy.request" and isinstance(data.get("change_id"), int):
            requests[data["change_id"]] = (index, data)
        if kind != "policy.approve":
            continue
        change_id = data.get("change_id")
        found = requests.get(change_id) if isinstance(change_id, int) else None
        if found is None:
            return index, f"entry {index} approves change {change_id!r}, never requested"
        req_index, req = found
        signed = "signature" in req or "signature" in data
        if not signed and not (require and (req.get("judgement") or {}).get("sensitive")):
            continue
        origin = origins(index + 1)
        if origin is None:
            return (
                index,
                f"entry {index}: the log had no origin when change {change_id} was approved",
            )
        message = approval_message(
            origin, int(req.get("base_version", -1)), str(req.get("document_hash"))
        )
        requester = str((req.get("actor") or {}).get("name", ""))
        approver = str((data.get("actor") or {}).get("name", ""))
        first = registry.signer(requester, message, req.get("signature"), before=req_index)
        second = registry.signer(approver, message, data.get("signature"), before=index)
        if first is None or second is None:
            who = requester if first is None else approver
            return index, (
                f"entry {index}: sensitive change {change_id} lacks a valid signature by a key "
                f"registered to {who} (signed approvals required)"
            )
        if first == second:
            return index, (
                f"entry {index}: sensitive change {change_id} is signed twice by the same key "
                f"{key_id_for(first)}"
            )
    return None
