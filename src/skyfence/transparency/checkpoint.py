"""C2SP checkpoints (c2sp.org/tlog-checkpoint) and Ed25519 cosignatures (c2sp.org/tlog-cosignature).

A checkpoint is a signed note whose text is::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    [extension lines]

signed by the log's key (named after the origin) and, optionally, cosigned by witnesses. A
witness cosignature (signature type 0x04) is ``key id || u64 timestamp || Ed25519 signature``
over ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint text.

:func:`verify_checkpoint` opens a checkpoint with the log's verifier key, ignores signatures by
unknown keys, and counts the distinct trusted witnesses whose cosignature verifies against a
required quorum.

Examples
--------
>>> from skyfence.transparency.note import Signer
>>> log = Signer.from_seed("example.com/log", bytes(32))
>>> body = Checkpoint("example.com/log", 0, EMPTY_ROOT).text()
>>> note = sign_checkpoint(body, log)
>>> verify_checkpoint(note, log.verifier()).size
0
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.errors import ParseError
from skyfence.transparency.merkle import EMPTY_ROOT
from skyfence.transparency.note import (
    COSIGNATURE_V1,
    Note,
    NoteSignature,
    NoteVerificationError,
    Signer,
    Verifier,
    format_note,
    key_id,
    open_note,
    parse,
)

__all__ = [
    "EMPTY_ROOT",
    "Checkpoint",
    "VerifiedCheckpoint",
    "Cosigner",
    "parse_checkpoint_text",
    "sign_checkpoint",
    "verify_checkpoint",
    "QuorumError",
]


class QuorumError(NoteVerificationError):
    """Fewer trusted witnesses cosigned a checkpoint than the quorum asks for."""


@dataclass(frozen=True)
class Checkpoint:
    """The body of a checkpoint: origin, tree size, 32-byte root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text (every line ends in a newline)."""
        if not self.origin or "\n" in self.origin:
            raise ParseError("a checkpoint origin must be one non-empty line")
        if self.size < 0 or len(self.root_hash) != 32:
            raise ParseError("a checkpoint needs a tree size >= 0 and a 32-byte root hash")
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        for ext in self.extensions:
            if not ext or "\n" in ext:
                raise ParseError("checkpoint extension lines must be non-empty single lines")
            lines.append(ext)
        return "\n".join(lines) + "\n"


def parse_checkpoint_text(text: str) -> Checkpoint:
    """The :class:`Checkpoint` in a note text; :class:`~skyfence.errors.ParseError` if malformed."""
    if not text.endswith("\n"):
        raise ParseError("a checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise ParseError("a checkpoint has at least three lines: origin, tree size, root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise ParseError("the checkpoint origin (first line) is empty")
    if (
        not size_text.isdigit()
        or not size_text.isascii()
        or (len(size_text) > 1 and size_text[0] == "0")
    ):
        raise ParseError(
            f"checkpoint tree size {size_text!r} must be a decimal number without leading zeroes"
        )
    try:
        root = base64.b64decode(root_text, validate=True)
    except (ValueError, binascii.Error):
        root = b""
    if len(root) != 32:
        raise ParseError("the checkpoint root hash (third line) must be base64 of 32 bytes")
    if any(not ext for ext in extensions):
        raise ParseError("checkpoint extension lines must be non-empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


@dataclass(frozen=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified, and the witnesses that cosigned it."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...]
    text: str
    note: str
    witnesses: tuple[str, ...]  # names of the trusted witnesses whose cosignature verified
    cosigned_at: tuple[int, ...]  # their timestamps (seconds since the epoch), same order

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.origin, self.size, self.root_hash, self.extensions)


def sign_checkpoint(text: str, log: Signer, existing: Sequence[NoteSignature] = ()) -> str:
    """The checkpoint ``text`` signed by the log's key (before any ``existing`` cosignatures)."""
    parse_checkpoint_text(text)
    sig = log.signature(text)
    rest = [s for s in existing if (s.name, s.key_id) != (sig.name, sig.key_id)]
    return format_note(text, [sig, *rest])


class Cosigner:
    """A witness key that makes timestamped Ed25519 cosignatures (type 0x04)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = name
        self.private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, COSIGNATURE_V1, self.public_key)
        Verifier.ed25519(name, self.public_key, COSIGNATURE_V1)  # checks the name

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Cosigner:
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, COSIGNATURE_V1, self.public_key)

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        """The cosignature of checkpoint ``text`` at ``timestamp`` (POSIX seconds, > 0)."""
        parse_checkpoint_text(text)
        if not 0 < timestamp < 2**63:
            raise ParseError("a cosignature timestamp must be between 1 and 2**63 - 1")
        message = f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
        signature = struct.pack(">Q", timestamp) + self.private_key.sign(message)
        return NoteSignature(self.name, self.key_id, signature)


def verify_checkpoint(
    data: str | bytes | Note,
    log: Verifier | Sequence[Verifier],
    *,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    origin: str | None = None,
) -> VerifiedCheckpoint:
    """Verify a checkpoint note: a signature by (one of) the log's key(s) and ``quorum``
    distinct trusted ``witnesses``.

    Signatures by unknown keys are ignored; a known key's signature that does not verify
    refuses the checkpoint. ``origin``, if given, must be the checkpoint's first line.
    Raises :class:`NoteVerificationError` / :class:`QuorumError` /
    :class:`~skyfence.errors.ParseError`.
    """
    logs = [log] if isinstance(log, Verifier) else list(log)
    if quorum < 0 or quorum > len(witnesses):
        raise ParseError(
            f"a quorum of {quorum} cannot be met by {len(witnesses)} trusted witness key(s); "
            "give as many --witness keys as the quorum or more"
        )
    note = data if isinstance(data, Note) else parse(data)
    cp = parse_checkpoint_text(note.text)
    if origin is not None and cp.origin != origin:
        raise NoteVerificationError(f"the checkpoint is for log {cp.origin!r}, not {origin!r}")
    # the log's own signature (unknown keys ignored, a bad known one refuses the note)
    open_note(note, logs)
    witnessed: list[str] = []
    seen: set[tuple[str, bytes]] = set()
    times: list[int] = []
    if witnesses:
        known = {(w.name, w.key_id): w for w in witnesses}
        for sig in note.signatures:
            w = known.get((sig.name, sig.key_id))
            if w is None:
                continue
            if not w.verify(note.text, sig.signature):
                raise NoteVerificationError(
                    f"the cosignature of witness {w.name} (key {w.key_id:08x}) does not verify: "
                    "the checkpoint was altered after it was cosigned"
                )
            if (w.name, w.public_key) not in seen:  # a witness counts once
                seen.add((w.name, w.public_key))
                witnessed.append(w.name)
                times.append(int(struct.unpack(">Q", sig.signature[:8])[0]))
    if len(witnessed) < quorum:
        raise QuorumError(
            f"checkpoint of size {cp.size} is cosigned by {len(witnessed)} trusted witness(es) "
            f"({', '.join(witnessed) or 'none'}), fewer than the quorum of {quorum}"
        )
    return VerifiedCheckpoint(
        cp.origin,
        cp.size,
        cp.root_hash,
        cp.extensions,
        note.text,
        note.format(),
        tuple(witnessed),
        tuple(times),
    )
