"""The transparency log as users run it: show, proofs, export, checkpoints, keys, verify.

Verifying an export needs no store and no principal (:func:`verify_file`): anyone holding
the export and a public key can do it. ``verify_database`` adds to the log's own checks
that every state table matches the replayed log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyfence.app._store import open_store

if TYPE_CHECKING:
    from skyfence.app.context import App
    from skyfence.app.identity import Principal
    from skyfence.store import (
        Checkpoint,
        ConsistencyProof,
        ExportSummary,
        InclusionProof,
        LogEntry,
        PublicKeyInfo,
        TrustedCheckpoint,
        VerifyReport,
    )

__all__ = [
    "LogPage",
    "show",
    "inclusion_proof",
    "consistency_proof",
    "export",
    "checkpoint",
    "pubkey",
    "rotate_key",
    "verify_file",
    "verify_database",
    "latest_checkpoint",
]


@dataclass(frozen=True)
class LogPage:
    tree_size: int
    entries: list[LogEntry]


def show(app: App, principal: Principal, start: int = 0, limit: int | None = 20) -> LogPage:
    """Entries from ``start`` (at most ``limit``) and the log's size."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return LogPage(store.log.size(), store.log.entries(start, limit))


def inclusion_proof(
    app: App, principal: Principal, index: int, tree_size: int | None = None
) -> InclusionProof:
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return store.log.inclusion_proof(index, tree_size)


def consistency_proof(
    app: App, principal: Principal, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        return store.log.consistency_proof(old_size, new_size)


def export(app: App, principal: Principal, path: str | Path) -> ExportSummary:
    """Write the export (signing a checkpoint first if the last does not cover the log)."""
    principal.require("export the log", "viewer")
    with open_store(app) as store:
        return store.log.export(path)


def checkpoint(app: App, principal: Principal, *, accept_unsigned: bool = False) -> Checkpoint:
    """Sign the current head now. ``accept_unsigned`` (admins) signs entries appended
    outside skyfence after checking the whole log."""
    if accept_unsigned:
        principal.require("sign entries appended outside skyfence", "admin")
    else:
        principal.require("sign a checkpoint", "operator")
    with open_store(app) as store:
        return store.log.checkpoint(operator=principal.name, accept_unsigned=accept_unsigned)


def pubkey(app: App, principal: Principal) -> tuple[str, list[PublicKeyInfo]]:
    """The PEM of the active signing key, and every key the log has used."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        pem = store.log.pubkey()
        return pem, store.log.public_keys()


def rotate_key(app: App, principal: Principal, *, reason: str) -> tuple[str, str]:
    """A new signing key (rotation logged, signed by both keys): ``(key id, PEM)``."""
    principal.require("rotate the signing key", "admin")
    with open_store(app) as store:
        key_id = store.log.rotate_key(operator=principal.name, reason=reason)
        return key_id, store.log.pubkey()


def verify_file(
    path: str | Path,
    public_key: str | bytes | Path,
    *,
    trusted_checkpoint: TrustedCheckpoint | None = None,
) -> VerifyReport:
    """Verify an export offline (no store); see :func:`skyfence.store.verify_export`."""
    from skyfence.store import verify_export

    return verify_export(path, public_key, trusted_checkpoint=trusted_checkpoint)


def verify_database(
    app: App,
    principal: Principal,
    *,
    public_key: Any = None,
    trusted_checkpoint: TrustedCheckpoint | None = None,
) -> VerifyReport:
    """The log's checks on the database itself, plus every state table against the log."""
    principal.require("verify the log", "viewer")
    with open_store(app) as store:
        return store.verify(public_key, trusted_checkpoint=trusted_checkpoint)


def latest_checkpoint(app: App, principal: Principal) -> Checkpoint:
    """The latest signed checkpoint; one is signed now if the log has none yet."""
    principal.require("read the log", "viewer")
    with open_store(app) as store:
        found = store.log.latest_checkpoint()
        if found is None:
            found = store.log.checkpoint(operator="skyfence")
        return found
