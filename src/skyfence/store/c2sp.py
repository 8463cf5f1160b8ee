"""The store's checkpoints as C2SP signed notes (c2sp.org/tlog-checkpoint).

Since the log has an *origin* (setting ``log_origin``, default
``skyfence.local/policy-log``), every checkpoint is the note text::

    <origin>
    <tree size>
    <root hash, base64>

signed with Ed25519 by the log's key under the key name ``<origin>`` (key id
``SHA-256(origin || 0x0A || 0x01 || public key)[:4]``), so any C2SP verifier (Go's sumdb note
package, Sigsum, Tessera clients, :mod:`skyfence.transparency`) reads it with the log's
verifier key ``<origin>+<key id>+<base64(0x01 || key)>`` (``skyfence log pubkey --vkey``).

The origin is itself logged: in the ``key.create`` entry of a new log's first key
(``"origin"`` beside the key), or in a ``log.origin`` entry (``{"origin": ...}``) appended in
the transaction of the first checkpoint signed under a new origin (an older log, or a changed
setting), so which origin a checkpoint names is
derived from the log (the last ``log.origin`` entry inside the tree it signs) and no table
changes. Checkpoints signed before the first ``log.origin`` entry keep their original
skyfence format (:func:`skyfence.store.keys.checkpoint_message`) and stay verifiable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from skyfence.errors import ConfigurationError, ParseError
from skyfence.files import write_text_atomic
from skyfence.store.keys import checkpoint_message, verify_signature
from skyfence.store.models import LogEntryRow
from skyfence.transparency.checkpoint import Checkpoint, parse_checkpoint_text
from skyfence.transparency.note import (
    ED25519,
    NoteSignature,
    format_note,
    format_vkey,
    key_id,
    parse,
)

__all__ = [
    "ORIGIN_KIND",
    "DEFAULT_ORIGIN",
    "check_origin",
    "checkpoint_text",
    "checkpoint_note",
    "signed_message",
    "vkey_for",
    "OriginHistory",
    "CosignedNotes",
    "merge",
]

ORIGIN_KIND = "log.origin"
ORIGIN_KINDS = (ORIGIN_KIND, "key.create")
"""Entries that set the origin: ``log.origin``, and the ``key.create`` of a log's first key."""
DEFAULT_ORIGIN = "skyfence.local/policy-log"


def check_origin(origin: str) -> str:
    """``origin`` if it can name a log and its key (non-empty, no spaces, no '+')."""
    if (
        not isinstance(origin, str)
        or not origin
        or any(c.isspace() or c == "+" or ord(c) < 0x20 for c in origin)
    ):
        raise ConfigurationError(
            f"log origin {origin!r} must be non-empty with no spaces or '+', e.g. "
            "skyfence.example/policy-log (set SKYFENCE_LOG_ORIGIN)"
        )
    return origin


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The C2SP checkpoint note text of ``(origin, size, root)``."""
    return Checkpoint(origin, size, root).text()


def signed_message(
    origin: str | None, size: int, root: bytes, time_iso: str, skyfence_key_id: str
) -> bytes:
    """What the checkpoint's signature covers: the C2SP note text when the log had an
    origin at ``size``, else the original skyfence checkpoint message."""
    if origin is None:
        return checkpoint_message(size, root, time_iso, skyfence_key_id)
    return checkpoint_text(origin, size, root).encode()


def verify(
    public_raw: bytes,
    signature: bytes,
    origin: str | None,
    size: int,
    root: bytes,
    time_iso: str,
    skyfence_key_id: str,
) -> bool:
    """True if ``signature`` is the log key's signature of that checkpoint."""
    message = signed_message(origin, size, root, time_iso, skyfence_key_id)
    return verify_signature(public_raw, signature, message)


def checkpoint_note(
    origin: str,
    size: int,
    root: bytes,
    public_raw: bytes,
    signature: bytes,
    cosignatures: Sequence[NoteSignature] = (),
) -> str:
    """The whole signed note: the log's signature first, then any witness cosignatures."""
    own = NoteSignature(origin, key_id(origin, ED25519, public_raw), signature)
    others = [c for c in cosignatures if (c.name, c.key_id) != (own.name, own.key_id)]
    return format_note(checkpoint_text(origin, size, root), [own, *others])


def cosignatures_of(note: str) -> list[NoteSignature]:
    """The signatures of ``note`` after the first (the log's own)."""
    return list(parse(note).signatures[1:])


def vkey_for(origin: str, public_raw: bytes) -> str:
    """The log's verifier key ``<origin>+<key id>+<base64(0x01 || key)>``."""
    return format_vkey(origin, ED25519, public_raw)


def origin_of_entry(entry_json: str) -> str | None:
    try:
        data = json.loads(entry_json).get("data", {})
    except (ValueError, AttributeError):
        return None
    origin = data.get("origin") if isinstance(data, dict) else None
    return origin if isinstance(origin, str) else None


class OriginHistory:
    """The ``log.origin`` entries of a log, read incrementally (entries never change)."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []  # (entry index, origin), ascending
        self.scanned = 0

    def refresh(self, conn: Connection, size: int) -> None:
        """Read the origin entries among entries ``[scanned, size)``."""
        if size <= self.scanned:
            return
        rows = conn.execute(
            select(LogEntryRow.entry_index, LogEntryRow.entry_json)
            .where(LogEntryRow.kind.in_(ORIGIN_KINDS))
            .where(LogEntryRow.entry_index >= self.scanned)
            .where(LogEntryRow.entry_index < size)
            .order_by(LogEntryRow.entry_index)
        )
        for index, text in rows:
            origin = origin_of_entry(text)
            if origin is not None:
                self.items.append((int(index), origin))
        self.scanned = size

    def at(self, size: int) -> str | None:
        """The origin in force for a checkpoint of ``size`` entries (``None``: before any)."""
        found = None
        for index, origin in self.items:
            if index < size:
                found = origin
            else:
                break
        return found

    def latest(self) -> str | None:
        return self.items[-1][1] if self.items else None


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class CosignedNotes:
    """Witness cosignatures of the log's checkpoints, kept as note files in one directory.

    ``<dir>/<tree size>-<root hex>.note`` holds the log's note with every cosignature
    collected for it (written atomically). Cosignatures are not part of the log: a reader
    checks them against the witnesses' keys it trusts, so this directory needs no protection
    beyond its availability.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _file(self, text: str) -> Path:
        cp = parse_checkpoint_text(text)
        return self.directory / f"{cp.size}-{cp.root_hash.hex()}.note"

    def get(self, note: str) -> str:
        """``note`` with the cosignatures kept for its checkpoint (same text) added."""
        parsed = parse(note)
        try:
            stored = parse(self._file(parsed.text).read_text(encoding="utf-8"))
        except (OSError, ParseError):
            return note
        if stored.text != parsed.text:
            return note
        return merge(note, stored.signatures)

    def add(self, note: str, cosignatures: Sequence[NoteSignature]) -> str:
        """Keep ``cosignatures`` for ``note``'s checkpoint; returns the merged note."""
        merged = merge(self.get(note), cosignatures)
        write_text_atomic(self._file(parse(note).text), merged, make_parents=True)
        return merged


def merge(note: str, signatures: Sequence[NoteSignature]) -> str:
    """``note`` with ``signatures`` appended, each (name, key id) once."""
    parsed = parse(note)
    have = list(parsed.signatures)
    seen = {(s.name, s.key_id, s.signature) for s in have}
    for s in signatures:
        if (s.name, s.key_id, s.signature) not in seen and not any(
            (h.name, h.key_id) == (s.name, s.key_id) for h in have
        ):
            have.append(s)
            seen.add((s.name, s.key_id, s.signature))
    return format_note(parsed.text, have)
