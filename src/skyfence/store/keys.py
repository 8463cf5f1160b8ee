"""Ed25519 keys that sign checkpoints, kept as PEM files under the key directory.

A key is made on first use: ``<key_dir>/log-<key_id>.pem`` (PKCS#8, unencrypted), written with
permissions 0600 inside a 0700 directory; a key file readable by others is refused. The key id
is the first 16 hex digits of SHA-256 of the 32-byte raw public key. Only public keys go into
the database and into exports.

What a checkpoint signs (UTF-8, ``\\n`` line ends)::

    skyfence transparency log checkpoint v1
    <tree size>
    <root hash, hex>
    <time, ISO 8601 UTC>
    <key id>

A key rotation is signed by both the old and the new key over::

    skyfence transparency log key rotation v1
    <old key id>
    <old public key, base64>
    <new key id>
    <new public key, base64>
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from skyfence.errors import ConfigurationError, InputError

__all__ = [
    "key_id_for",
    "checkpoint_message",
    "rotation_message",
    "KeyDirectory",
    "load_public_key",
    "public_key_pem",
    "verify_signature",
]

ALGORITHM = "ed25519"


def key_id_for(public_raw: bytes) -> str:
    """Key id: the first 16 hex digits of SHA-256 of the raw 32-byte public key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def checkpoint_message(tree_size: int, root_hash: bytes, time_iso: str, key_id: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return (
        f"skyfence transparency log checkpoint v1\n{tree_size}\n{root_hash.hex()}\n"
        f"{time_iso}\n{key_id}\n"
    ).encode()


def rotation_message(old_id: str, old_raw: bytes, new_id: str, new_raw: bytes) -> bytes:
    """The bytes both keys sign when the signing key is rotated."""
    return (
        f"skyfence transparency log key rotation v1\n{old_id}\n"
        f"{base64.b64encode(old_raw).decode()}\n{new_id}\n{base64.b64encode(new_raw).decode()}\n"
    ).encode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_raw: bytes) -> str:
    """PEM (SubjectPublicKeyInfo) text of a raw Ed25519 public key."""
    key = Ed25519PublicKey.from_public_bytes(public_raw)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(text: str | bytes) -> bytes:
    """Raw 32-byte Ed25519 public key from PEM text, base64 of the raw key, or 64 hex digits.

    Raises :class:`~skyfence.errors.InputError` naming the accepted forms.
    """
    data = text.encode() if isinstance(text, str) else bytes(text)
    stripped = data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(stripped)
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not an Ed25519 key")
            return raw_public(key)
        if len(stripped) == 64:
            raw = bytes.fromhex(stripped.decode())
        else:
            raw = base64.b64decode(stripped, validate=True)
        if len(raw) != 32:
            raise ValueError(f"{len(raw)} bytes, expected 32")
        Ed25519PublicKey.from_public_bytes(raw)
        return raw
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read the public key ({exc}); expected an Ed25519 public key as PEM "
            "(what `skyfence log pubkey` prints), base64 of the 32 raw bytes, or 64 hex digits"
        ) from None


def verify_signature(public_raw: bytes, signature: bytes, message: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``public_raw``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class KeyDirectory:
    """Private signing keys as PEM files in one directory (created 0700, files 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._loaded: dict[str, Ed25519PrivateKey] = {}

    def file_for(self, key_id: str) -> Path:
        return self.path / f"log-{key_id}.pem"

    def generate(self) -> tuple[str, bytes, Ed25519PrivateKey]:
        """Make a new key, write it, and return ``(key_id, raw public key, private key)``."""
        private = Ed25519PrivateKey.generate()
        public_raw = raw_public(private.public_key())
        key_id = key_id_for(public_raw)
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(self.file_for(key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        self._loaded[key_id] = private
        return key_id, public_raw, private

    def public_raw(self, key_id: str) -> bytes | None:
        """The raw public key of the local key file ``key_id``, or ``None`` if there is none.

        Used to check signatures against the key this host holds rather than a public key
        read from the database (which whoever can write the database could replace).
        """
        path = self.file_for(key_id)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError):
            return None
        if not isinstance(key, Ed25519PrivateKey):
            return None
        raw = raw_public(key.public_key())
        return raw if key_id_for(raw) == key_id else None

    def load(self, key_id: str) -> Ed25519PrivateKey:
        """The private key ``key_id``; refuses a missing, foreign or group/world-readable file.

        The file is checked on every call (cheap); its parsed key is kept in memory.
        """
        path = self.file_for(key_id)
        if not path.exists():
            raise ConfigurationError(
                f"the log's signing key {key_id} is not at {path}; copy the key file there "
                "(or set SKYFENCE_DATA_DIR to the directory that holds keys/), or rotate to a "
                "new key with `skyfence log rotate-key`"
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                f"signing key file {path} has permissions {mode:o}; other users could read it. "
                f"Fix with: chmod 600 {path}"
            )
        cached = self._loaded.get(key_id)
        if cached is not None:
            return cached
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if (
            not isinstance(key, Ed25519PrivateKey)
            or key_id_for(raw_public(key.public_key())) != key_id
        ):
            raise ConfigurationError(f"{path} does not hold the Ed25519 key {key_id}")
        self._loaded[key_id] = key
        return key
