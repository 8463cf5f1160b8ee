"""The transparency log: entries in an RFC 9162 Merkle tree, Ed25519-signed checkpoints.

Each entry is canonical JSON::

    {"v": 1, "index": i, "prev_root": "<MTH of entries 0..i-1, hex>", "time": "...Z",
     "kind": "policy.apply", "author": "alice", "reason": "...", "data": {...}}

and its leaf hash is ``SHA-256(0x00 || entry)``. ``prev_root`` chains every entry to all the
ones before it, so a removed, inserted or reordered entry is found at the exact index even when
the tamperer recomputed leaf hashes. The store keeps the hash of every perfect subtree
(table ``merkle_nodes``), so inclusion and consistency proofs need ``O(log n)`` look-ups in one
query, whatever the log's size.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from skyfence.errors import InputError, NotFoundError
from skyfence.files import atomic_path
from skyfence.store import c2sp
from skyfence.store._time import iso_utc, naive_utc
from skyfence.store.canonical import canonical_json
from skyfence.store.head import fetch_nodes
from skyfence.store.keys import ALGORITHM, KeyDirectory, rotation_message, verify_signature
from skyfence.store.merkle import (
    EMPTY_ROOT,
    NodeKey,
    consistency_ranges,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_cover,
    range_hash,
)
from skyfence.store.models import Base, CheckpointRow, LogEntryRow, LogHeadRow, SigningKeyRow
from skyfence.store.records import (
    Checkpoint,
    ConsistencyProof,
    ExportSummary,
    InclusionProof,
    LogEntry,
    PublicKeyInfo,
    _entry,
    _key_info,
)
from skyfence.store.state import Replay, StoreState
from skyfence.store.verify_scan import EXPORT_FORMAT  # the export's header names it

if TYPE_CHECKING:
    from skyfence.store.verify import VerifyReport

__all__ = [
    "TransparencyLog",
    "LogEntry",
    "Checkpoint",
    "InclusionProof",
    "ConsistencyProof",
    "PublicKeyInfo",
    "ExportSummary",
    "iso_utc",
    "EXPORT_FORMAT",
]

Clock = Callable[[], datetime]


class _UnitOfWork:
    """One write transaction: its session, the appender, the time, and the state it leaves."""

    def __init__(
        self,
        session: Session,
        appender: _Appender,
        now: datetime,
        state: StoreState,
        start_root: bytes,
    ) -> None:
        self.session = session
        self.appender = appender
        self.now = now
        self.state = state
        self.start_root = start_root  # the authenticated root before this transaction


class _Appender:
    """Appends entries inside one write transaction (the head row is already locked).

    Entries are hashed when :meth:`flush` writes them, so the last entry of the transaction
    can carry the ``state`` the transaction leaves behind.
    """

    def __init__(
        self, session: Session, tree_size: int, frontier: list[tuple[int, bytes]] | None = None
    ) -> None:
        self.session = session
        self.size = int(tree_size)  # including entries not flushed yet
        self.start_size = int(tree_size)
        self._hashed = int(tree_size)
        if frontier is None:
            keys = perfect_cover(0, self.size) if self.size else []
            nodes = fetch_nodes(session.connection(), keys) if keys else {}
            frontier = [(level, nodes[(level, idx)]) for level, idx in keys]
        self.frontier: list[tuple[int, bytes]] = list(frontier)  # largest subtree first
        self.pending: list[tuple[str, dict[str, Any], str, str, datetime]] = []

    def root(self) -> bytes:
        frontier = self.frontier
        if not frontier:
            return EMPTY_ROOT
        sha = hashlib.sha256
        r = frontier[-1][1]
        for _, h in frontier[-2::-1]:
            r = sha(b"\x01" + h + r).digest()  # node_hash, inline: once per level per entry
        return r

    def append(
        self, kind: str, data: dict[str, Any], *, author: str, reason: str, now: datetime
    ) -> int:
        _check_text("author", author)
        if not isinstance(reason, str):
            raise InputError("reason must be a string; say why the change is made")
        self.pending.append((kind, data, author, reason, now))
        self.size += 1
        return self.size - 1

    def flush(self, state: dict[str, Any] | None = None) -> None:
        """Hash and write the pending entries; the last one carries ``state``."""
        if not self.pending:
            return
        entry_rows: list[dict[str, Any]] = []
        node_rows: list[dict[str, Any]] = []
        last = len(self.pending) - 1
        for k, (kind, data, author, reason, now) in enumerate(self.pending):
            index = self._hashed
            entry: dict[str, Any] = {
                "v": 1,
                "index": index,
                "prev_root": self.root().hex(),
                "time": iso_utc(now),
                "kind": kind,
                "author": author,
                "reason": reason,
                "data": data,
            }
            if k == last and state is not None:
                entry["state"] = state
            text = canonical_json(entry)
            leaf = leaf_hash(text)
            entry_rows.append(
                {
                    "entry_index": index,
                    "kind": kind,
                    "author": author,
                    "reason": reason,
                    "created_at": now,
                    "entry_json": text.decode("utf-8"),
                    "leaf_hash": leaf,
                }
            )
            node_rows.append({"level": 0, "node_index": index, "hash": leaf})
            self._hashed += 1
            level, h = 0, leaf
            while self.frontier and self.frontier[-1][0] == level:
                _, left = self.frontier.pop()
                h = node_hash(left, h)
                level += 1
                node_rows.append(
                    {"level": level, "node_index": (self._hashed >> level) - 1, "hash": h}
                )
            self.frontier.append((level, h))
        self.pending = []
        conn = self.session.connection()
        conn.execute(_INSERT_ENTRY, entry_rows)
        conn.execute(_INSERT_NODE, node_rows)
        conn.execute(_UPDATE_HEAD, {"size": self._hashed, "root": self.root()})


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{name} must be a non-empty string (who is making the change)")


_fetch_nodes = fetch_nodes


class TransparencyLog:
    """The store's transparency log (``store.log``). Reads and writes go through the store's engine.

    Appends made by the store happen inside the store's own transactions; :meth:`append` and
    :meth:`append_many` let other components log their own events.
    """

    def __init__(
        self,
        engine: Engine,
        read_engine: Engine,
        keys: KeyDirectory,
        clock: Clock,
        write: Callable[..., Any],
        origin: str = c2sp.DEFAULT_ORIGIN,
    ) -> None:
        self._engine = engine
        self.origin = c2sp.check_origin(origin)
        self._origins = c2sp.OriginHistory()
        self._in_force: tuple[str, int, bytes, bytes] | None = None  # see _origin_in_force
        self._public: dict[str, bytes] = {}
        self._read_engine = read_engine
        self._keys = keys
        self._clock = clock
        self._write = write

    # -- writing ---------------------------------------------------------------------------
    def append(self, kind: str, data: dict[str, Any], *, author: str, reason: str) -> int:
        """Append one entry in its own transaction (signed checkpoint included); its index."""
        return self.append_many([(kind, data, author, reason)])[0]

    def append_many(self, items: Sequence[tuple[str, dict[str, Any], str, str]]) -> list[int]:
        """Append ``(kind, data, author, reason)`` items in one transaction, one checkpoint."""
        _check_kind_all(items)
        with self._write() as uow:
            now = uow.now
            return [
                uow.appender.append(kind, data, author=author, reason=reason, now=now)
                for kind, data, author, reason in items
            ]

    def checkpoint(
        self, *, operator: str = "skyfence", accept_unsigned: bool = False
    ) -> Checkpoint:
        """Sign the current tree head now (a key is made on first use) and return it.

        Entries after the latest signed checkpoint were not written by skyfence (every write
        signs one): they are refused unless ``accept_unsigned``, which checks the whole log
        (hashes, chain, every attested state) and then signs it.
        """
        with self._write(checkpoint=False, accept_unsigned=accept_unsigned) as uow:
            cp = self._finish(uow, sign=True, operator=operator)
        assert cp is not None
        return cp

    def rotate_key(self, *, operator: str, reason: str) -> str:
        """Make a new signing key, retire the old one, log the rotation signed by both keys.

        Returns the new key id. Checkpoints made from now on are signed by the new key.
        """
        _check_text("operator", operator)
        with self._write() as uow:
            session, now = uow.session, uow.now
            old = self._active_key_row(session)
            if old is None:
                new_id, _ = self._create_key(session, uow.appender, now, operator, reason)
                return new_id
            old_private = self._keys.load(old.key_id)
            new_id, new_raw, new_private = self._keys.generate()
            message = rotation_message(old.key_id, bytes(old.public_key), new_id, new_raw)
            session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.key_id == old.key_id)
                .values(status="retired", retired_at=now)
            )
            session.add(
                SigningKeyRow(
                    key_id=new_id,
                    algorithm=ALGORITHM,
                    public_key=new_raw,
                    status="active",
                    created_at=now,
                    retired_at=None,
                    created_by=operator,
                )
            )
            uow.appender.append(
                "key.rotate",
                {
                    "old_key_id": old.key_id,
                    "old_public_key": base64.b64encode(bytes(old.public_key)).decode(),
                    "new_key_id": new_id,
                    "new_public_key": base64.b64encode(new_raw).decode(),
                    "algorithm": ALGORITHM,
                    "old_signature": base64.b64encode(old_private.sign(message)).decode(),
                    "new_signature": base64.b64encode(new_private.sign(message)).decode(),
                },
                author=operator,
                reason=reason,
                now=now,
            )
            return new_id

    def _active_key_row(self, session: Session) -> SigningKeyRow | None:
        return session.execute(
            select(SigningKeyRow).where(SigningKeyRow.status == "active")
        ).scalar_one_or_none()

    def _create_key(
        self,
        session: Session,
        appender: _Appender,
        now: datetime,
        operator: str,
        reason: str,
        origin: str | None = None,
    ) -> tuple[str, Any]:
        key_id, public_raw, private = self._keys.generate()
        session.add(
            SigningKeyRow(
                key_id=key_id,
                algorithm=ALGORITHM,
                public_key=public_raw,
                status="active",
                created_at=now,
                retired_at=None,
                created_by=operator,
            )
        )
        data = {
            "key_id": key_id,
            "algorithm": ALGORITHM,
            "public_key": base64.b64encode(public_raw).decode(),
        }
        if origin is not None:
            data["origin"] = origin  # the log's origin starts with its first key
        appender.append(
            "key.create",
            data,
            author=operator,
            reason=reason or "first signing key of this log",
            now=now,
        )
        return key_id, private

    def _finish(
        self, uow: _UnitOfWork, *, sign: bool, operator: str = "skyfence"
    ) -> Checkpoint | None:
        """End a write transaction: write the pending entries (the last one carrying the
        state the transaction leaves) and, with ``sign``, sign a checkpoint of the new head.
        A key is made (and logged) on first use."""
        session, appender, now = uow.session, uow.appender, uow.now
        key_id: str | None = None
        private: Any = None
        if sign:
            key_id = session.execute(_ACTIVE_KEY_ID).scalar_one_or_none()
            new_origin = not self._origin_in_force(session, key_id, appender.start_size)
            if key_id is None:
                key_id, private = self._create_key(
                    session,
                    appender,
                    now,
                    operator,
                    "first signing key of this log",
                    origin=self.origin if new_origin else None,
                )
                new_origin = False
            else:
                private = self._keys.load(key_id)
            if new_origin:
                appender.append(
                    c2sp.ORIGIN_KIND,
                    {"origin": self.origin},
                    author=operator,
                    reason="checkpoints are signed as C2SP notes under this origin",
                    now=now,
                )
        appender.flush(uow.state.record() if appender.pending else None)
        if not sign:
            return None
        assert key_id is not None
        session.flush()  # the key row (if just made) before the checkpoint that refers to it
        size, root = appender.size, appender.root()
        time_iso = iso_utc(now)
        signature = private.sign(c2sp.signed_message(self.origin, size, root, time_iso, key_id))
        self._in_force = (key_id, size, root, signature)  # signed under the origin just now
        cp_id = (
            session.connection()
            .execute(
                _INSERT_CHECKPOINT,
                {
                    "tree_size": size,
                    "root_hash": root,
                    "created_at": now,
                    "key_id": key_id,
                    "signature": signature,
                },
            )
            .scalar_one()
        )
        public_raw = private.public_key().public_bytes_raw()
        return Checkpoint(
            id=int(cp_id),
            tree_size=size,
            root_hash=root.hex(),
            time=time_iso,
            key_id=key_id,
            signature=base64.b64encode(signature).decode(),
            origin=self.origin,
            note=c2sp.checkpoint_note(self.origin, size, root, public_raw, signature),
        )

    # -- reading ---------------------------------------------------------------------------
    def _read(self) -> Session:
        return Session(self._read_engine)

    def size(self) -> int:
        """Number of entries in the log."""
        with self._read() as session:
            return int(session.execute(select(LogHeadRow.tree_size)).scalar_one())

    def root(self, tree_size: int | None = None) -> str:
        """Root hash (hex) of the first ``tree_size`` entries (default: all)."""
        with self._read_engine.connect() as conn:
            size = self._resolve_size(conn, tree_size)
            return self._root(conn, size).hex()

    def _resolve_size(self, conn: Connection | Session, tree_size: int | None) -> int:
        head = int(conn.execute(_HEAD_SIZE).scalar_one())
        if tree_size is None:
            return head
        if not 0 <= tree_size <= head:
            raise InputError(f"tree size {tree_size} is out of range; the log has {head} entries")
        return int(tree_size)

    def _root(self, conn: Connection, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        nodes = _fetch_nodes(conn, perfect_cover(0, size))
        return range_hash(0, size, nodes)

    def entries(self, start: int = 0, limit: int | None = None) -> list[LogEntry]:
        """Entries ``start, start+1, ...`` (at most ``limit``), parsed from their stored JSON."""
        if start < 0 or (limit is not None and limit < 0):
            raise InputError("start and limit must be >= 0")
        with self._read() as session:
            query = (
                select(LogEntryRow)
                .where(LogEntryRow.entry_index >= start)
                .order_by(LogEntryRow.entry_index)
            )
            if limit is not None:
                query = query.limit(limit)
            return [_entry(row) for row in session.execute(query).scalars()]

    def entry(self, index: int) -> LogEntry:
        """Entry ``index``; :class:`~skyfence.errors.NotFoundError` if there is none."""
        with self._read() as session:
            row = session.get(LogEntryRow, index)
            if row is None:
                size = int(session.execute(select(LogHeadRow.tree_size)).scalar_one())
                raise NotFoundError(f"no log entry {index}; the log has entries 0..{size - 1}")
            return _entry(row)

    def checkpoints(self) -> list[Checkpoint]:
        """Every signed checkpoint, oldest first."""
        with self._read() as session:
            rows = list(session.execute(select(CheckpointRow).order_by(CheckpointRow.id)).scalars())
            return [self._checkpoint(session.connection(), r) for r in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        with self._read() as session:
            row = session.execute(
                select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
            ).scalar_one_or_none()
            return None if row is None else self._checkpoint(session.connection(), row)

    def _checkpoint(self, conn: Connection, row: Any) -> Checkpoint:
        """A checkpoint row with its origin and C2SP note (derived from the log)."""
        cp = _checkpoint(row)
        self._origins.refresh(conn, int(conn.execute(_HEAD_SIZE).scalar_one()))
        origin = self._origins.at(cp.tree_size)
        if origin is None:
            return cp
        public = self._public.get(cp.key_id)
        if public is None:
            raw = conn.execute(
                select(_T_KEYS.c.public_key).where(_T_KEYS.c.key_id == cp.key_id)
            ).scalar_one_or_none()
            if raw is None:
                return cp
            public = self._public.setdefault(cp.key_id, bytes(raw))
        note = c2sp.checkpoint_note(
            origin, cp.tree_size, bytes(row.root_hash), public, bytes(row.signature)
        )
        return dataclasses.replace(cp, origin=origin, note=note)

    @property
    def read_engine(self) -> Engine:
        """The engine for reads (tiles, exports)."""
        return self._read_engine

    @property
    def cosignatures(self) -> c2sp.CosignedNotes:
        """Witness cosignatures kept for this log's checkpoints (``<data_dir>/cosigned``)."""
        return c2sp.CosignedNotes(self._keys.path.parent / "cosigned")

    def cosigned(self, note: str) -> str:
        """``note`` with the witness cosignatures kept for its checkpoint."""
        return self.cosignatures.get(note)

    def _origin_in_force(self, session: Session, key_id: str | None, size: int) -> bool:
        """Whether the log has recorded this log's origin as the one in force at ``size``.

        Fast path: the latest checkpoint verifies as a C2SP note under the origin (it was
        signed under it, so the origin was recorded then); else read the origin entries.
        """
        row = session.execute(_LATEST_CHECKPOINT).first()
        if row is not None and key_id is not None and row.key_id == key_id:
            seen = (key_id, int(row.tree_size), bytes(row.root_hash), bytes(row.signature))
            if seen == self._in_force:  # verified before, by this process
                return True
            public = self._keys.public_raw(key_id)
            message = c2sp.signed_message(self.origin, seen[1], seen[2], "", key_id)
            if public is not None and verify_signature(public, seen[3], message):
                self._in_force = seen
                return True
        self._origins.refresh(session.connection(), size)
        return self._origins.latest() == self.origin

    def origin_help(self) -> dict[str, Any]:
        """What :func:`~skyfence.store.head.read_head` needs to read this log's checkpoints."""
        return {"origin_at": self.origin_at, "origin_hint": self.origin}

    def origin_at(self, conn: Connection, size: int) -> str | None:
        """The origin a checkpoint of ``size`` entries names (``None``: signed before the log
        had one, in the original skyfence format)."""
        self._origins.refresh(conn, size)
        return self._origins.at(size)

    def vkey(self) -> str:
        """The C2SP verifier key of the active signing key under this log's origin."""
        keys = [k for k in self.public_keys() if k.status == "active"]
        if not keys:
            self.checkpoint()
            keys = [k for k in self.public_keys() if k.status == "active"]
        return c2sp.vkey_for(self.origin, base64.b64decode(keys[0].public_key))

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``tree_size`` entries (default: all).

        One query for all the node hashes the proof needs (``O(log n)`` of them).
        """
        with self._read_engine.connect() as conn:
            size = self._resolve_size(conn, tree_size)
            if not 0 <= index < size:
                raise InputError(
                    f"no entry {index} in a tree of {size} entries; expected 0 <= index < {size}"
                )
            ranges = inclusion_ranges(index, size)
            keys: list[NodeKey] = [(0, index)]
            keys += perfect_cover(0, size)
            for a, b in ranges:
                keys += perfect_cover(a, b)
            nodes = _fetch_nodes(conn, keys)
            cp = conn.execute(_CHECKPOINT_AT_SIZE, {"size": size}).first()
            return InclusionProof(
                index=index,
                tree_size=size,
                leaf_hash=nodes[(0, index)].hex(),
                root_hash=range_hash(0, size, nodes).hex(),
                path=[range_hash(a, b, nodes).hex() for a, b in ranges],
                checkpoint=None if cp is None else self._checkpoint(conn, cp),
            )

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``old_size`` entries is a prefix of the one of ``new_size``."""
        with self._read_engine.connect() as conn:
            new = self._resolve_size(conn, new_size)
            if not 0 <= old_size <= new:
                raise InputError(
                    f"no consistency proof from size {old_size} to {new}; "
                    "expected 0 <= old size <= new size"
                )
            ranges = consistency_ranges(old_size, new)
            keys: list[NodeKey] = []
            for a, b in [(0, old_size), (0, new), *ranges]:
                if b > a:
                    keys += perfect_cover(a, b)
            nodes = _fetch_nodes(conn, keys)
            return ConsistencyProof(
                old_size=old_size,
                new_size=new,
                old_root=(range_hash(0, old_size, nodes) if old_size else EMPTY_ROOT).hex(),
                new_root=(range_hash(0, new, nodes) if new else EMPTY_ROOT).hex(),
                path=[range_hash(a, b, nodes).hex() for a, b in ranges],
            )

    def public_keys(self) -> list[PublicKeyInfo]:
        """Every signing key this log has used (active last), public parts only."""
        with self._read() as session:
            rows = session.execute(select(SigningKeyRow)).scalars()
            infos = [_key_info(r) for r in rows]
        return sorted(infos, key=lambda k: (k.status == "active", k.created_at, k.key_id))

    def pubkey(self) -> str:
        """PEM of the active signing key's public key (made on first use, with a checkpoint)."""
        keys = [k for k in self.public_keys() if k.status == "active"]
        if not keys:
            self.checkpoint()
            keys = [k for k in self.public_keys() if k.status == "active"]
        return keys[0].pem

    # -- export and verify -----------------------------------------------------------------
    def export_records(self) -> Iterator[dict[str, Any]]:
        """The export as records: a header, every entry, every checkpoint (one snapshot)."""
        with self._read() as session:
            size = int(session.execute(select(LogHeadRow.tree_size)).scalar_one())
            root = self._root(session.connection(), size)
            keys = sorted(
                (_key_info(r) for r in session.execute(select(SigningKeyRow)).scalars()),
                key=lambda k: (k.status == "active", k.created_at, k.key_id),
            )
            yield {
                "type": "header",
                "format": EXPORT_FORMAT,
                "version": 1,
                "exported_at": iso_utc(_naive_utc(self._clock())),
                "tree_size": size,
                "root_hash": root.hex(),
                "public_keys": [
                    {
                        "key_id": k.key_id,
                        "algorithm": k.algorithm,
                        "public_key": k.public_key,
                        "status": k.status,
                    }
                    for k in keys
                ],
            }
            query = (
                select(LogEntryRow.entry_index, LogEntryRow.leaf_hash, LogEntryRow.entry_json)
                .where(LogEntryRow.entry_index < size)
                .order_by(LogEntryRow.entry_index)
                .execution_options(yield_per=5000)
            )
            for index, leaf, text in session.execute(query):
                yield {
                    "type": "entry",
                    "index": int(index),
                    "leaf_hash": bytes(leaf).hex(),
                    "entry": json.loads(text),
                }
            cp_rows = session.execute(
                select(CheckpointRow)
                .where(CheckpointRow.tree_size <= size)
                .order_by(CheckpointRow.id)
            ).scalars()
            for row in list(cp_rows):
                cp = self._checkpoint(session.connection(), row)
                record: dict[str, Any] = {
                    "type": "checkpoint",
                    "tree_size": cp.tree_size,
                    "root_hash": cp.root_hash,
                    "time": cp.time,
                    "key_id": cp.key_id,
                    "signature": cp.signature,
                }
                if cp.note is not None:
                    record["origin"] = cp.origin
                    record["note"] = self.cosigned(cp.note)
                yield record

    def export(self, path: str | Path, *, checkpoint: bool = True) -> ExportSummary:
        """Write the log as JSON Lines to ``path`` (see ``docs/log.md`` for the format).

        With ``checkpoint`` (default) a checkpoint is signed first if the latest one does not
        cover every entry, so the whole export can be verified offline.
        """
        if checkpoint:
            latest = self.latest_checkpoint()
            if latest is None or latest.tree_size != self.size():
                self.checkpoint()
        target = Path(path)
        counts = {"entry": 0, "checkpoint": 0}
        header: dict[str, Any] = {}
        if target.is_dir():
            raise InputError(f"{target} is a directory; give the path of the file to write")
        try:
            with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as fh:
                for record in self.export_records():
                    if record["type"] == "header":
                        header = record
                    else:
                        counts[record["type"]] += 1
                    fh.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
        except OSError as exc:
            raise InputError(f"cannot write the export to {target}: {exc.strerror}") from None
        return ExportSummary(
            path=str(target),
            entries=counts["entry"],
            checkpoints=counts["checkpoint"],
            tree_size=int(header["tree_size"]),
            root_hash=str(header["root_hash"]),
        )

    def verify(
        self,
        public_key: str | bytes | None = None,
        *,
        replay: Replay | None = None,
        trusted_checkpoint: Any = None,
        witnesses: Any = (),
        quorum: int = 0,
        signed_approvals: bool = False,
    ) -> VerifyReport:
        """Verify the stored log like ``skyfence log verify`` does an export.

        ``public_key`` (PEM, base64 or hex) is the key you trust; default: the public part
        of this host's key file for the active key, else the active key recorded in the
        database (which only shows the database agrees with itself). ``replay`` (a
        :class:`~skyfence.store.state.Replay`) is fed every entry and left holding the state
        the log implies; ``trusted_checkpoint`` (a :class:`~skyfence.store.verify.TrustedCheckpoint`)
        must be contained in the log. Returns a :class:`skyfence.store.verify.VerifyReport`.
        """
        from skyfence.store.keys import load_public_key
        from skyfence.store.verify import verify_records

        if public_key is None:
            trusted = []
            for k in self.public_keys():
                if k.status == "active":
                    local = self._keys.public_raw(k.key_id)
                    trusted.append(local if local is not None else base64.b64decode(k.public_key))
        else:
            trusted = [load_public_key(public_key)]
        report: VerifyReport = verify_records(
            self.export_records(),
            trusted,
            source="database",
            replay=replay,
            trusted_checkpoint=trusted_checkpoint,
            witnesses=witnesses,
            quorum=quorum,
            signed_approvals=signed_approvals,
        )
        return report


_T_ENTRIES = Base.metadata.tables["log_entries"]
_T_NODES = Base.metadata.tables["merkle_nodes"]
_T_HEAD = Base.metadata.tables["log_head"]
_T_CHECKPOINTS = Base.metadata.tables["checkpoints"]
_T_KEYS = Base.metadata.tables["signing_keys"]
_INSERT_ENTRY = insert(_T_ENTRIES)
_INSERT_NODE = insert(_T_NODES)
_UPDATE_HEAD = (
    update(_T_HEAD)
    .where(_T_HEAD.c.id == 1)
    .values(tree_size=bindparam("size"), root_hash=bindparam("root"))
)
_INSERT_CHECKPOINT = insert(_T_CHECKPOINTS).returning(_T_CHECKPOINTS.c.id)
_ACTIVE_KEY_ID = select(_T_KEYS.c.key_id).where(_T_KEYS.c.status == "active")
_CP = _T_CHECKPOINTS.c
_LATEST_CHECKPOINT = (
    select(_CP.key_id, _CP.tree_size, _CP.root_hash, _CP.signature).order_by(_CP.id.desc()).limit(1)
)
_LOCK_HEAD = select(_T_HEAD.c.tree_size).where(_T_HEAD.c.id == 1).with_for_update()
_HEAD_SIZE = select(_T_HEAD.c.tree_size).where(_T_HEAD.c.id == 1)
_CHECKPOINT_AT_SIZE = (
    select(_T_CHECKPOINTS)
    .where(_T_CHECKPOINTS.c.tree_size == bindparam("size"))
    .order_by(_T_CHECKPOINTS.c.id.desc())
    .limit(1)
)


def _check_kind_all(items: Sequence[tuple[str, dict[str, Any], str, str]]) -> None:
    for item in items:
        if len(item) != 4:
            raise InputError("each item is (kind, data, author, reason)")
        kind, data, _, _ = item
        if not isinstance(kind, str) or not kind:
            raise InputError("kind must be a non-empty string such as 'note' or 'policy.apply'")
        if not isinstance(data, dict):
            raise InputError(f"data of a {kind!r} entry must be a dict, not {type(data).__name__}")


_naive_utc = naive_utc


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(
        id=int(row.id),
        tree_size=int(row.tree_size),
        root_hash=bytes(row.root_hash).hex(),
        time=iso_utc(row.created_at),
        key_id=row.key_id,
        signature=base64.b64encode(bytes(row.signature)).decode(),
    )
