"""C2SP signed notes (https://c2sp.org/signed-note): parse, format, sign and verify.

A note is UTF-8 text ending in a newline, a blank line, then one signature line per key::

    — <key name> base64(key id (4 bytes, big-endian) || signature)

Ed25519 keys (signature type ``0x01``) have the key id
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; timestamped Ed25519 cosignatures
(type ``0x04``, c2sp.org/tlog-cosignature) use the same rule with ``0x04`` and are handled by
:mod:`skyfence.transparency.checkpoint`. A verifier key ("vkey") is the text
``<name>+<key id, 8 hex digits>+base64(type || public key)``.

Verification follows the spec: a signature whose (name, key id) matches no known key is
ignored (kept in :attr:`Opened.unverified`); one that matches a known key must verify, or the
whole note is refused; a note with no verified signature is refused.

Only the standard library and ``cryptography`` are used, so this module can check a note
anywhere.

Examples
--------
>>> signer = Signer.from_seed("example.com/log", bytes(32))
>>> text = "hello\\n"
>>> note = sign(text, [signer])
>>> note.splitlines()[0]
'hello'
>>> open_note(note, [signer.verifier()]).text == text
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from skyfence.errors import IntegrityError, ParseError

__all__ = [
    "ED25519",
    "COSIGNATURE_V1",
    "MAX_SIGNATURES",
    "NoteSignature",
    "Note",
    "Opened",
    "Verifier",
    "Signer",
    "NoteVerificationError",
    "key_id",
    "parse",
    "format_note",
    "sign",
    "open_note",
    "parse_vkey",
    "format_vkey",
]

ED25519 = 0x01
"""Signature type of plain Ed25519 note signatures."""
COSIGNATURE_V1 = 0x04
"""Signature type of timestamped Ed25519 checkpoint cosignatures (tlog-cosignature)."""
MAX_SIGNATURES = 100
"""At most this many signature lines are read (the spec asks verifiers to accept 16)."""
MAX_NOTE_BYTES = 1_000_000
_DASH = "\u2014 "


class NoteVerificationError(IntegrityError):
    """A note is not signed by any trusted key, or a trusted key's signature is wrong."""


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 32-bit key id and the signature bytes after the id."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        """The signature line, with its final newline."""
        blob = struct.pack(">I", self.key_id) + self.signature
        return f"{_DASH}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text (with the final newline) and its signatures, in order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def format(self) -> str:
        """The note as text: ``text``, a blank line, one line per signature."""
        return format_note(self.text, self.signatures)


@dataclass(frozen=True)
class Opened:
    """A verified note: ``verified`` signatures are from known keys, ``unverified`` from unknown."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...] = field(default=())


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` as a big-endian integer."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ParseError(
            f"key name {name!r} must be non-empty and contain no spaces or '+', "
            "e.g. example.com/log"
        )


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise ParseError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise ParseError("note text must not contain control characters other than newline")


@dataclass(frozen=True)
class Verifier:
    """A trusted key: ``name``, ``key_id``, signature ``sig_type`` and the raw public key.

    :meth:`verify` checks one signature over ``text`` (for type ``0x01``, Ed25519 over the
    text; for cosignatures see :mod:`skyfence.transparency.checkpoint`).
    """

    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    @classmethod
    def ed25519(cls, name: str, public_key: bytes, sig_type: int = ED25519) -> Verifier:
        """The verifier of an Ed25519 key (``sig_type`` 0x01, or 0x04 for a cosigner)."""
        _check_name(name)
        if len(public_key) != 32:
            raise ParseError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
        return cls(name, key_id(name, sig_type, public_key), sig_type, bytes(public_key))

    def vkey(self) -> str:
        """The verifier key text ``name+keyid+base64(type || key)``."""
        return format_vkey(self.name, self.sig_type, self.public_key)

    def message(self, text: str, signature: bytes) -> bytes:
        """The bytes the signature covers (for cosignatures: the timestamped message)."""
        if self.sig_type == COSIGNATURE_V1:
            if len(signature) != 72:
                return b""
            (timestamp,) = struct.unpack(">Q", signature[:8])
            return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()
        return text.encode()

    def verify(self, text: str, signature: bytes) -> bool:
        """True if ``signature`` (the bytes after the key id) is valid over ``text``."""
        if self.sig_type == COSIGNATURE_V1:
            if len(signature) != 72 or signature[0] & 0x80:  # u64 timestamp < 2**63
                return False
            message, raw = self.message(text, signature), signature[8:]
        elif self.sig_type == ED25519:
            message, raw = text.encode(), signature
        else:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(raw, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 signing key with a key name (signature type 0x01)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self.name = name
        self.private_key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, ED25519, self.public_key)

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        """The signer of the 32-byte Ed25519 ``seed`` (RFC 8032 private key)."""
        return cls(name, Ed25519PrivateKey.from_private_bytes(seed))

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, ED25519, self.public_key)

    def signature(self, text: str) -> NoteSignature:
        """A signature line over ``text`` (which must be a valid note text)."""
        _check_text(text)
        return NoteSignature(self.name, self.key_id, self.private_key.sign(text.encode()))


def parse_vkey(vkey: str) -> Verifier:
    """A :class:`Verifier` from ``name+keyid+base64(type || key)``.

    The key id must match the one computed from the name and key (the spec's rule), and the
    type must be Ed25519 (0x01) or an Ed25519 cosignature (0x04).
    """
    text = vkey.strip()
    name, _, rest = text.partition("+")
    id_hex, _, material = rest.partition("+")
    expected = "expected a verifier key like example.com/log+1a2b3c4d+AbC... (name+keyid+base64)"
    if not name or len(id_hex) != 8 or not material:
        raise ParseError(f"verifier key {text!r}: {expected}")
    try:
        kid = int(id_hex, 16)
        blob = base64.b64decode(material, validate=True)
    except (ValueError, binascii.Error):
        raise ParseError(f"verifier key {text!r}: {expected}") from None
    if len(blob) != 33 or blob[0] not in (ED25519, COSIGNATURE_V1):
        raise ParseError(
            f"verifier key {text!r}: expected type 0x01 (Ed25519) or 0x04 (Ed25519 "
            "cosignature) followed by a 32-byte key"
        )
    verifier = Verifier.ed25519(name, blob[1:], blob[0])
    if verifier.key_id != kid:
        raise ParseError(
            f"verifier key {text!r}: key id {id_hex} does not match the name and key "
            f"(expected {verifier.key_id:08x})"
        )
    return verifier


def format_vkey(name: str, sig_type: int, public_key: bytes) -> str:
    """``name+keyid+base64(type || public key)``."""
    _check_name(name)
    kid = key_id(name, sig_type, public_key)
    material = base64.b64encode(bytes([sig_type]) + public_key).decode()
    return f"{name}+{kid:08x}+{material}"


def parse(data: str | bytes) -> Note:
    """Split a signed note into its text and signature lines (nothing is verified).

    Raises :class:`~skyfence.errors.ParseError` naming what is malformed.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise ParseError(f"note larger than {MAX_NOTE_BYTES} bytes")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("a note must be UTF-8 text") from None
    if len(data) > MAX_NOTE_BYTES:
        raise ParseError(f"note larger than {MAX_NOTE_BYTES} bytes")
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise ParseError("a note must not contain control characters other than newline")
    if not data.endswith("\n"):
        raise ParseError("a note must end with a newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise ParseError("a note needs a blank line between its text and its signatures")
    text, sig_block = data[: split + 1], data[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise ParseError("a note needs at least one signature line after the blank line")
    if len(lines) > MAX_SIGNATURES:
        raise ParseError(f"a note may have at most {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_DASH):
            raise ParseError(f"signature line {number} must start with '\u2014 ' (em dash, space)")
        name, sep, blob64 = line[len(_DASH) :].partition(" ")
        try:
            _check_name(name)
        except ParseError as exc:
            raise ParseError(f"signature line {number}: {exc}") from None
        try:
            blob = base64.b64decode(blob64, validate=True) if sep else b""
        except (ValueError, binascii.Error):
            blob = b""
        if len(blob) < 5:
            raise ParseError(
                f"signature line {number}: expected base64 of a 4-byte key id and a signature"
            )
        signatures.append(
            NoteSignature(name, int(struct.unpack(">I", blob[:4])[0]), bytes(blob[4:]))
        )
    return Note(text, tuple(signatures))


def format_note(text: str, signatures: Sequence[NoteSignature]) -> str:
    """``text``, a blank line, and one line per signature."""
    _check_text(text)
    if not signatures:
        raise ParseError("a note needs at least one signature")
    return text + "\n" + "".join(s.line() for s in signatures)


def sign(text: str, signers: Sequence[Signer], existing: Sequence[NoteSignature] = ()) -> str:
    """The note ``text`` signed by ``signers`` (after ``existing`` signatures, if any)."""
    new = [s.signature(text) for s in signers]
    seen = {(s.name, s.key_id) for s in new}
    kept = [s for s in existing if (s.name, s.key_id) not in seen]
    return format_note(text, [*kept, *new])


def open_note(data: str | bytes | Note, verifiers: Sequence[Verifier]) -> Opened:
    """Verify a note against the trusted ``verifiers`` (the spec's rules).

    Signatures from unknown keys are ignored; one from a known key that does not verify
    refuses the note; so does a note with no verified signature
    (:class:`NoteVerificationError`).
    """
    note = data if isinstance(data, Note) else parse(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            unverified.append(sig)
            continue
        if not verifier.verify(note.text, sig.signature):
            raise NoteVerificationError(
                f"the signature of {sig.name} (key {sig.key_id:08x}) does not verify: "
                "the note was altered or signed by another key"
            )
        verified.append(sig)
    if not verified:
        names = ", ".join(f"{v.name}+{v.key_id:08x}" for v in verifiers) or "none"
        seen = ", ".join(f"{s.name}+{s.key_id:08x}" for s in note.signatures)
        raise NoteVerificationError(
            f"no signature by a trusted key (trusted: {names}; the note is signed by: {seen})"
        )
    return Opened(note.text, tuple(verified), tuple(unverified))
