"""The records the transparency log returns: entries, checkpoints, proofs, keys, export summaries."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from skyfence.store.keys import public_key_pem
from skyfence.store.merkle import verify_consistency, verify_inclusion
from skyfence.store.models import LogEntryRow, SigningKeyRow

__all__ = [
    "LogEntry",
    "Checkpoint",
    "InclusionProof",
    "ConsistencyProof",
    "PublicKeyInfo",
    "ExportSummary",
]


@dataclass(frozen=True)
class LogEntry:
    """One log entry as stored: ``entry`` is the parsed canonical JSON."""

    index: int
    kind: str
    author: str
    reason: str
    time: np.datetime64
    leaf_hash: str
    entry: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head. ``signature`` is base64 Ed25519 over the C2SP checkpoint text
    (``note``, whose first line is ``origin``), or over
    :func:`~skyfence.store.keys.checkpoint_message` for a checkpoint signed before the log
    had an origin (then ``origin`` and ``note`` are ``None``)."""

    id: int
    tree_size: int
    root_hash: str
    time: str
    key_id: str
    signature: str
    origin: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of entry ``index`` in the tree of ``tree_size`` entries."""

    index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]
    checkpoint: Checkpoint | None = None

    def verify(self) -> bool:
        """Check the proof with the RFC 9162 §2.1.3.2 algorithm."""
        return verify_inclusion(
            bytes.fromhex(self.leaf_hash),
            self.index,
            self.tree_size,
            [bytes.fromhex(p) for p in self.path],
            bytes.fromhex(self.root_hash),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof that tree ``old_size`` is a prefix of tree ``new_size``."""

    old_size: int
    new_size: int
    old_root: str
    new_root: str
    path: list[str]

    def verify(self) -> bool:
        """Check the proof with the RFC 9162 §2.1.4.2 algorithm."""
        return verify_consistency(
            self.old_size,
            self.new_size,
            bytes.fromhex(self.old_root),
            bytes.fromhex(self.new_root),
            [bytes.fromhex(p) for p in self.path],
        )


@dataclass(frozen=True)
class PublicKeyInfo:
    key_id: str
    algorithm: str
    public_key: str  # base64 of the 32 raw bytes
    status: str
    created_at: np.datetime64
    retired_at: np.datetime64 | None
    pem: str = field(repr=False, default="")


@dataclass(frozen=True)
class ExportSummary:
    path: str
    entries: int
    checkpoints: int
    tree_size: int
    root_hash: str


def _dt64(dt: datetime | None) -> np.datetime64 | None:
    return None if dt is None else np.datetime64(dt, "ns")


def _entry(row: LogEntryRow) -> LogEntry:
    parsed = json.loads(row.entry_json)
    return LogEntry(
        index=int(row.entry_index),
        kind=str(parsed.get("kind", row.kind)),
        author=str(parsed.get("author", row.author)),
        reason=str(parsed.get("reason", row.reason)),
        time=np.datetime64(str(parsed.get("time", "")).rstrip("Z") or row.created_at, "ns"),
        leaf_hash=bytes(row.leaf_hash).hex(),
        entry=parsed,
    )


def _key_info(row: SigningKeyRow) -> PublicKeyInfo:
    raw = bytes(row.public_key)
    return PublicKeyInfo(
        key_id=row.key_id,
        algorithm=row.algorithm,
        public_key=base64.b64encode(raw).decode(),
        status=row.status,
        created_at=np.datetime64(row.created_at, "ns"),
        retired_at=_dt64(row.retired_at),
        pem=public_key_pem(raw),
    )
