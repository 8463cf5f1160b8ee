"""A transparency-log witness (c2sp.org/tlog-witness) and a client that submits to one.

:class:`Witness` answers ``add-checkpoint`` requests: it verifies the checkpoint's signature
by a log it knows (404 for an unknown origin, 403 for no valid log signature), that the
request's old size is the size it last cosigned for that log (409, with that size as
``text/x.tlog.size``), and the consistency proof from that checkpoint to the new one (422),
then stores the new checkpoint and returns its timestamped Ed25519 cosignature
(c2sp.org/tlog-cosignature). The check and the store happen in one SQLite ``BEGIN IMMEDIATE``
transaction, so two concurrent requests can never roll the witness back. A split view — a
second tree of the same size with another root, or a tree that does not extend the one
cosigned — is refused with 409 or 422.

:func:`serve` runs it over HTTP with the standard library (``POST /add-checkpoint``,
``GET /<sha256(origin) hex>/checkpoint``); :class:`WitnessClient` is the log's side.

Examples
--------
>>> import tempfile, pathlib
>>> from skyfence.transparency.checkpoint import Checkpoint, Cosigner, sign_checkpoint
>>> from skyfence.transparency.merkle import EMPTY_ROOT
>>> from skyfence.transparency.note import Signer
>>> log = Signer.from_seed("example.com/log", bytes(32))
>>> w = Witness(pathlib.Path(tempfile.mkdtemp()) / "w.db",
...             Cosigner.from_seed("w.example/1", bytes([1]) * 32), [log.verifier()])
>>> note = sign_checkpoint(Checkpoint("example.com/log", 0, EMPTY_ROOT).text(), log)
>>> w.add_checkpoint(("old 0\\n\\n" + note).encode()).status
200
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from skyfence.errors import ConflictError, IntegrityError, ParseError
from skyfence.transparency.checkpoint import Cosigner, parse_checkpoint_text
from skyfence.transparency.merkle import EMPTY_ROOT, verify_consistency
from skyfence.transparency.note import (
    NoteSignature,
    NoteVerificationError,
    Verifier,
    format_note,
    open_note,
    parse,
)

__all__ = [
    "Witness",
    "WitnessResponse",
    "WitnessClient",
    "add_checkpoint_body",
    "serve",
    "MAX_PROOF_LINES",
]

MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 1_000_000
SIZE_TYPE = "text/x.tlog.size"
COSIGNATURE_TYPE = "text/x.tlog.signature"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    origin TEXT PRIMARY KEY,
    tree_size INTEGER NOT NULL,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin TEXT NOT NULL,
    status INTEGER NOT NULL,
    reason TEXT NOT NULL,
    request TEXT NOT NULL,
    at INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class WitnessResponse:
    """An HTTP answer: status, body and content type."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


def _text(status: int, message: str) -> WitnessResponse:
    return WitnessResponse(status, (message.rstrip("\n") + "\n").encode())


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of an ``add-checkpoint`` request."""
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


class Witness:
    """A witness with one Ed25519 cosigner key, state in the SQLite file ``db_path``.

    ``logs`` are the verifier keys of the logs it witnesses (key name = origin).
    """

    def __init__(
        self,
        db_path: str | Path,
        cosigner: Cosigner,
        logs: Sequence[Verifier],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db_path = Path(db_path)
        self.cosigner = cosigner
        self.logs: dict[str, list[Verifier]] = {}
        for v in logs:
            self.logs.setdefault(v.name, []).append(v)
        self.clock = clock
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def latest(self, origin: str) -> str | None:
        """The latest cosigned checkpoint note of ``origin`` (with this witness's cosignature)."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT note FROM checkpoints WHERE origin = ?", (origin,)
            ).fetchone()
        return None if row is None else str(row[0])

    def latest_by_hash(self, origin_hash: str) -> str | None:
        with self._connect() as conn:
            for origin, note in conn.execute("SELECT origin, note FROM checkpoints"):
                if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                    return str(note)
        return None

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        """Answer one ``add-checkpoint`` request body (the spec's checks, in its order)."""
        if len(body) > MAX_BODY_BYTES:
            return _text(400, "request body too large")
        try:
            old_size, proof, note_text = _parse_request(body)
            note = parse(note_text)
            cp = parse_checkpoint_text(note.text)
        except ParseError as exc:
            return _text(400, f"malformed request: {exc}")
        verifiers = self.logs.get(cp.origin)
        if not verifiers:
            return _text(404, f"unknown log origin {cp.origin!r}")
        try:
            open_note(note, verifiers)
        except NoteVerificationError as exc:
            return _text(403, str(exc))
        if old_size > cp.size:
            return _text(400, f"old size {old_size} is larger than the checkpoint size {cp.size}")
        now = int(self.clock())
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")  # the check and the store are one transaction
            row = conn.execute(
                "SELECT tree_size, root_hash FROM checkpoints WHERE origin = ?", (cp.origin,)
            ).fetchone()
            stored_size, stored_root = (0, EMPTY_ROOT) if row is None else (int(row[0]), row[1])
            refusal = self._check(old_size, stored_size, bytes(stored_root), proof, cp)
            if refusal is not None:
                conn.execute(
                    "INSERT INTO refused (origin, status, reason, request, at) VALUES (?,?,?,?,?)",
                    (cp.origin, refusal.status, refusal.body.decode(), body.decode(), now),
                )
                conn.execute("COMMIT")
                return refusal
            cosignature = self.cosigner.cosign(note.text, now)
            mine = [
                s
                for s in note.signatures
                if (s.name, s.key_id) != (cosignature.name, cosignature.key_id)
            ]
            stored_note = format_note(note.text, [*mine, cosignature])
            conn.execute(
                "INSERT INTO checkpoints (origin, tree_size, root_hash, note, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(origin) DO UPDATE SET "
                "tree_size = excluded.tree_size, root_hash = excluded.root_hash, "
                "note = excluded.note, updated_at = excluded.updated_at",
                (cp.origin, cp.size, cp.root_hash, stored_note, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()
        return WitnessResponse(200, cosignature.line().encode(), COSIGNATURE_TYPE)

    @staticmethod
    def _check(
        old_size: int, stored_size: int, stored_root: bytes, proof: list[bytes], cp: object
    ) -> WitnessResponse | None:
        from skyfence.transparency.checkpoint import Checkpoint

        assert isinstance(cp, Checkpoint)
        if old_size != stored_size:
            return WitnessResponse(409, f"{stored_size}\n".encode(), SIZE_TYPE)
        if cp.size == 0 and cp.root_hash != EMPTY_ROOT:
            return _text(422, "a checkpoint of size 0 must have the empty tree's root")
        if old_size == 0:
            if proof:
                return _text(422, "a consistency proof from size 0 must be empty")
            return None
        if old_size == cp.size:
            if cp.root_hash != stored_root or proof:
                return _text(
                    422,
                    f"split view: the log already showed a tree of size {cp.size} with another "
                    "root",
                )
            return None
        if not verify_consistency(old_size, cp.size, stored_root, cp.root_hash, proof):
            return _text(
                422,
                f"the consistency proof from size {old_size} to {cp.size} does not verify: the "
                "new tree does not extend the one cosigned (a split view)",
            )
        return None


def _parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("the request is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise ParseError("expected an old size line, proof lines, a blank line and a checkpoint")
    lines = head.split("\n")
    first = lines[0]
    size_text = first[4:] if first.startswith("old ") else ""
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise ParseError("the first line must be 'old <size>' (decimal, no leading zeroes)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ParseError(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line, validate=True)
        except (ValueError, binascii.Error):
            h = b""
        if len(h) != 32:
            raise ParseError("each consistency proof line must be base64 of a 32-byte hash")
        proof.append(h)
    return int(size_text), proof, note


class WitnessClient:
    """The log's side: submit a checkpoint to one witness and verify its cosignature."""

    def __init__(self, url: str, verifier: Verifier, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/") + "/add-checkpoint"
        self.verifier = verifier
        self.timeout_s = timeout_s

    def post(self, body: bytes) -> WitnessResponse:
        request = urllib.request.Request(  # noqa: S310 - the configured witness URL
            self.url, data=body, method="POST", headers={"Content-Type": "text/plain"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                return WitnessResponse(
                    int(response.status), response.read(), response.headers.get_content_type()
                )
        except urllib.error.HTTPError as exc:
            return WitnessResponse(int(exc.code), exc.read(), exc.headers.get_content_type())

    def add_checkpoint(
        self,
        note: str,
        old_size: int,
        proof_for: Callable[[int], Sequence[bytes]],
        *,
        send: Callable[[bytes], WitnessResponse] | None = None,
    ) -> NoteSignature:
        """Submit ``note`` claiming the witness last saw ``old_size``; on 409 retry once from
        the size the witness reports. Returns the verified cosignature.

        ``proof_for(old)`` is the consistency proof from ``old`` to the note's size.
        Raises :class:`~skyfence.errors.ConflictError` / :class:`IntegrityError` with the
        witness's answer.
        """
        post = send or self.post
        response = post(add_checkpoint_body(old_size, proof_for(old_size), note))
        if response.status == 409 and response.body.strip().isdigit():
            old_size = int(response.body.strip())
            response = post(add_checkpoint_body(old_size, proof_for(old_size), note))
        if response.status != 200:
            message = response.body.decode("utf-8", "replace").strip()
            error = ConflictError if response.status == 409 else IntegrityError
            raise error(
                f"witness {self.verifier.name} refused the checkpoint "
                f"(HTTP {response.status}): {message}"
            )
        text = parse(note).text
        for line in response.body.decode("utf-8", "replace").splitlines():
            try:
                sig = parse(text + "\n" + line + "\n").signatures[0]
            except ParseError:
                continue
            if (sig.name, sig.key_id) == (self.verifier.name, self.verifier.key_id):
                if not self.verifier.verify(text, sig.signature):
                    break
                return sig
        raise IntegrityError(
            f"witness {self.verifier.name} answered without a valid cosignature by its key"
        )


def serve(witness: Witness, host: str = "127.0.0.1", port: int = 8087) -> ThreadingHTTPServer:
    """An HTTP server for ``witness`` (call ``serve_forever()`` on it)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "skyfence-witness"

        def _answer(self, response: WitnessResponse) -> None:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            if self.path.rstrip("/") != "/add-checkpoint":
                self._answer(_text(404, "not found; POST /add-checkpoint"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(_text(400, "request body too large"))
                return
            self._answer(witness.add_checkpoint(self.rfile.read(length)))

        def do_GET(self) -> None:  # noqa: N802
            parts = self.path.strip("/").split("/")
            if len(parts) == 2 and parts[1] == "checkpoint":
                note = witness.latest_by_hash(parts[0])
                if note is not None:
                    self._answer(WitnessResponse(200, note.encode()))
                    return
            self._answer(_text(404, "not found"))

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # quiet; the refused table keeps what matters

    return ThreadingHTTPServer((host, port), Handler)
