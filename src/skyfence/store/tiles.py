"""The store's log as a tiled log (c2sp.org/tlog-tiles): write it to a directory, or read one
tile for a web server.

The hashes of a tile at level ``L`` are the store's perfect-subtree hashes at Merkle level
``8 * L`` (table ``merkle_nodes``), and entry bundles are the stored canonical JSON of each
entry, so writing tiles reads the database and hashes nothing. :func:`write_tiles` writes
every file atomically (a temporary file renamed into place) and the ``checkpoint`` last, so a
reader of the directory never sees a checkpoint whose tiles are missing.

Examples
--------
>>> import tempfile
>>> from skyfence.store import Store
>>> store = Store.open("sqlite://", key_dir=tempfile.mkdtemp())
>>> _ = store.log.append("note", {"text": "hello"}, author="alice", reason="example")
>>> summary = write_tiles(store.log, tempfile.mkdtemp())
>>> summary.tree_size, summary.tiles, summary.bundles
(2, 1, 1)
>>> read(store.log, "tile/0/000.p/2") == b"".join(
...     bytes.fromhex(e.leaf_hash) for e in store.log.entries())
True
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from skyfence.errors import InputError, NotFoundError
from skyfence.files import write_bytes_atomic, write_text_atomic
from skyfence.store.models import CheckpointRow, LogEntryRow, LogHeadRow, MerkleNodeRow
from skyfence.transparency.tiles import (
    MAX_ENTRY_BYTES,
    TILE_WIDTH,
    encode_bundle,
    entries_path,
    parse_tile_path,
    tile_path,
    tiles_for_size,
)

if TYPE_CHECKING:
    from skyfence.store.tlog import TransparencyLog

__all__ = ["TilesSummary", "write_tiles", "read", "checkpoint_note"]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TilesSummary:
    path: str
    tree_size: int
    root_hash: str
    tiles: int
    bundles: int
    origin: str
    vkey: str


def _tile_bytes(conn: Connection, level: int, index: int, width: int) -> bytes:
    start = index * TILE_WIDTH
    rows = conn.execute(
        select(MerkleNodeRow.node_index, MerkleNodeRow.hash)
        .where(MerkleNodeRow.level == 8 * level)
        .where(MerkleNodeRow.node_index >= start)
        .where(MerkleNodeRow.node_index < start + width)
        .order_by(MerkleNodeRow.node_index)
    ).all()
    if [int(r[0]) for r in rows] != list(range(start, start + width)):
        raise NotFoundError(f"{tile_path(level, index, width)}: the store lacks its hashes")
    return b"".join(bytes(r[1]) for r in rows)


def _bundle_bytes(conn: Connection, index: int, width: int) -> bytes:
    start = index * TILE_WIDTH
    rows = conn.execute(
        select(LogEntryRow.entry_index, LogEntryRow.entry_json)
        .where(LogEntryRow.entry_index >= start)
        .where(LogEntryRow.entry_index < start + width)
        .order_by(LogEntryRow.entry_index)
    ).all()
    if [int(r[0]) for r in rows] != list(range(start, start + width)):
        raise NotFoundError(f"{entries_path(index, width)}: the store lacks these entries")
    entries = [str(r[1]).encode("utf-8") for r in rows]
    for i, entry in zip(range(start, start + width), entries, strict=True):
        if len(entry) > MAX_ENTRY_BYTES:
            raise InputError(
                f"log entry {i} has {len(entry)} bytes, more than the {MAX_ENTRY_BYTES} a "
                "tlog-tiles entry bundle can hold; it cannot be published as tiles"
            )
    return encode_bundle(entries)


def _head_size(conn: Connection) -> int:
    return int(conn.execute(select(LogHeadRow.tree_size)).scalar_one())


def checkpoint_note(log: TransparencyLog, conn: Connection, size: int | None = None) -> str:
    """The C2SP note of the latest checkpoint of exactly ``size`` entries (default: the
    head), with the witness cosignatures kept for it; :class:`NotFoundError` if none."""
    n = _head_size(conn) if size is None else size
    row = conn.execute(
        select(CheckpointRow)
        .where(CheckpointRow.tree_size == n)
        .order_by(CheckpointRow.id.desc())
        .limit(1)
    ).first()
    cp = None if row is None else log._checkpoint(conn, row)
    if cp is None or cp.note is None:
        raise NotFoundError(
            f"no C2SP checkpoint of the log at tree size {n}; sign one with "
            "`skyfence log checkpoint`"
        )
    return log.cosigned(cp.note)


def read(log: TransparencyLog, path: str) -> bytes:
    """The bytes of one tlog-tiles resource of the log (``checkpoint``, a tile or a bundle).

    For a web server: :class:`~skyfence.errors.NotFoundError` (HTTP 404) for a path that is
    not a resource of the current tree. Full tiles never change; partial tiles are served
    for the current tree size only.
    """
    with log.read_engine.connect() as conn:
        if path.strip("/") == "checkpoint":
            return checkpoint_note(log, conn).encode()
        kind, index, width = parse_tile_path(path)
        size = _head_size(conn)
        if kind == "entries":
            level, count = 0, size
        else:
            level = int(kind)
            count = size // TILE_WIDTH**level
        full, partial = divmod(count, TILE_WIDTH)
        if not (index < full and width == TILE_WIDTH) and not (index == full and width == partial):
            raise NotFoundError(f"{path}: no such tile in the tree of {size} entries")
        if kind == "entries":
            return _bundle_bytes(conn, index, width)
        return _tile_bytes(conn, level, index, width)


def write_tiles(
    log: TransparencyLog, out_dir: str | Path, *, progress: Progress | None = None
) -> TilesSummary:
    """Write the whole log as tlog-tiles under ``out_dir`` (``checkpoint`` written last).

    A checkpoint is signed first if the latest does not cover every entry. Files are
    written atomically; running it again on the same directory brings it up to date.
    """
    target = Path(out_dir)
    if target.exists() and not target.is_dir():
        raise InputError(f"{target} exists and is not a directory; give a directory for the tiles")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the tiles directory {target}: {exc.strerror}") from None
    latest = log.latest_checkpoint()
    if latest is None or latest.tree_size != log.size() or latest.note is None:
        log.checkpoint()
    with log.read_engine.connect() as conn, conn.begin():
        cp_row: Any = conn.execute(
            select(CheckpointRow).order_by(CheckpointRow.id.desc()).limit(1)
        ).one()
        size = int(cp_row.tree_size)
        note = checkpoint_note(log, conn, size)
        tiles = list(tiles_for_size(size))
        bundles = [
            (n, min(TILE_WIDTH, size - n * TILE_WIDTH))
            for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH)
        ]
        total, done = len(tiles) + len(bundles), 0
        try:
            for n, width in bundles:
                write_bytes_atomic(
                    target / entries_path(n, width),
                    _bundle_bytes(conn, n, width),
                    make_parents=True,
                )
                done += 1
                if progress is not None:
                    progress(done, total)
            for level, n, width in tiles:
                write_bytes_atomic(
                    target / tile_path(level, n, width),
                    _tile_bytes(conn, level, n, width),
                    make_parents=True,
                )
                done += 1
                if progress is not None:
                    progress(done, total)
            write_text_atomic(target / "checkpoint", note)
        except OSError as exc:
            raise InputError(f"cannot write the tiles under {target}: {exc.strerror}") from None
    origin = note.split("\n", 1)[0]
    return TilesSummary(
        path=str(target),
        tree_size=size,
        root_hash=bytes(cp_row.root_hash).hex(),
        tiles=len(tiles),
        bundles=len(bundles),
        origin=origin,
        vkey=log.vkey(),
    )
