"""The log head, authenticated: what a reader or a writer may trust before using the tables.

:func:`read_head` checks that the latest checkpoint is signed by a key this host trusts
(the public part of the local key file, else the key recorded in the database), that the
log's Merkle nodes fold to the signed root, and that the last entry is included under it;
the last entry's ``state`` is then the state the store is in. :func:`authenticated_entries`
reads further entries with an inclusion proof each. Nothing here trusts a table column
that is not covered by a signature: editing the tables is found, not believed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select

from skyfence.errors import InputError, IntegrityError, ParseError
from skyfence.store._time import iso_utc
from skyfence.store.c2sp import signed_message
from skyfence.store.canonical import canonical_json, loads_strict
from skyfence.store.keys import KeyDirectory, verify_signature
from skyfence.store.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    NodeKey,
    inclusion_ranges,
    leaf_hash,
    perfect_cover,
    range_hash,
    verify_inclusion,
)
from skyfence.store.models import CheckpointRow, LogEntryRow, LogHeadRow, SigningKeyRow
from skyfence.store.state import Replay, StoreState

__all__ = [
    "Head",
    "read_head",
    "read_marker",
    "latest_signed",
    "authenticated_entries",
    "fetch_nodes",
    "parse_entry",
]

HINT = "run `skyfence log verify --database` for the details"
_HEAD_SQL = f"SELECT tree_size, root_hash FROM {LogHeadRow.__tablename__} WHERE id = 1"
_LATEST_SIGNED = (
    select(CheckpointRow.tree_size, CheckpointRow.root_hash)
    .order_by(CheckpointRow.id.desc())
    .limit(1)
)


@dataclass
class Head:
    """An authenticated log head. ``frontier`` holds the perfect subtrees of the whole log
    (largest first) that an appender extends; ``state`` is the state the log attests."""

    size: int
    root: bytes
    frontier: list[tuple[int, bytes]]
    state: StoreState
    signed_size: int
    key_id: str | None = None
    replay: Replay | None = field(default=None, repr=False)


def read_marker(engine: Engine) -> tuple[int, bytes]:
    """The log head row, ``(tree_size, root_hash)``, *not* authenticated (see
    :meth:`skyfence.store.Store.head_marker`): one statement on a pooled driver connection,
    without SQLAlchemy's execution layer (37 µs of CPU instead of 172 µs)."""
    raw = engine.raw_connection()
    try:
        # psycopg outside autocommit would open a transaction, and the pool would send
        # a ROLLBACK when the connection is returned: a second round trip for nothing
        driver = raw.driver_connection if engine.dialect.name == "postgresql" else None
        previous = getattr(driver, "autocommit", None)
        if driver is not None and previous is False:
            driver.autocommit = True
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(_HEAD_SQL)
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            if driver is not None and previous is False:
                driver.autocommit = False
    finally:
        raw.close()
    if row is None:
        raise IntegrityError("the log head row is missing")
    size, root = row
    return int(size), bytes(root)


def latest_signed(conn: Connection) -> tuple[int, str] | None:
    """``(tree_size, root_hash hex)`` of the latest signed checkpoint (not verified)."""
    row = conn.execute(_LATEST_SIGNED).first()
    return None if row is None else (int(row.tree_size), bytes(row.root_hash).hex())


def fetch_nodes(conn: Connection, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """The hashes of the perfect subtrees ``keys``, in one query.

    The filter is ``(level = l AND node_index IN (...)) OR ...`` (one term per level), which
    both SQLite and PostgreSQL answer from the primary-key index (a row-value ``IN`` makes
    SQLite scan the table). The integers are written into the SQL text: building a bound
    expression per key costs more than the query itself.
    """
    by_level: dict[int, set[int]] = {}
    for level, idx in keys:
        by_level.setdefault(int(level), set()).add(int(idx))
    out: dict[NodeKey, bytes] = {}
    if not by_level:
        return out
    terms = " OR ".join(
        f"(level = {level} AND node_index IN ({','.join(str(i) for i in sorted(idxs))}))"
        for level, idxs in sorted(by_level.items())
    )
    rows = conn.exec_driver_sql(f"SELECT level, node_index, hash FROM merkle_nodes WHERE {terms}")
    for level, idx, h in rows:
        out[(int(level), int(idx))] = bytes(h)
    missing = [(lv, i) for lv, idxs in by_level.items() for i in idxs if (lv, i) not in out]
    if missing:
        raise IntegrityError(
            f"the log's Merkle node table lacks {len(missing)} node(s), e.g. level/index "
            f"{missing[0]}; the database was altered. Export the log and run `skyfence log verify`"
        )
    return out


def parse_entry(text: str, index: int) -> dict[str, Any]:
    """A stored entry's JSON, strictly: no duplicate keys, exactly its canonical form."""
    try:
        entry = loads_strict(text)
    except ParseError as exc:
        raise IntegrityError(f"log entry {index} cannot be read: {exc}; {HINT}") from None
    if not isinstance(entry, dict) or canonical_json(entry).decode("utf-8") != text:
        raise IntegrityError(f"log entry {index} is not in canonical form; {HINT}")
    return entry


def _trusted_key(conn: Connection, keys: KeyDirectory, key_id: str) -> bytes | None:
    local = keys.public_raw(key_id)
    if local is not None:
        return local
    raw = conn.execute(
        select(SigningKeyRow.public_key).where(SigningKeyRow.key_id == key_id)
    ).scalar_one_or_none()
    return None if raw is None else bytes(raw)


def _path_keys(index: int, size: int) -> list[NodeKey]:
    keys: list[NodeKey] = [(0, index)]
    for a, b in inclusion_ranges(index, size):
        keys += perfect_cover(a, b)
    return keys


def read_head(
    conn: Connection,
    keys: KeyDirectory,
    *,
    size: int | None = None,
    initial: StoreState | None = None,
    accept_unsigned: bool = False,
    origin_at: Callable[[Connection, int], str | None] | None = None,
    origin_hint: str | None = None,
) -> Head:
    """Authenticate the log head and return it with the state its last entry attests.

    Raises :class:`~skyfence.errors.IntegrityError` when the latest checkpoint's signature
    does not verify, the entries do not fold to its root, entries follow it unsigned (unless
    ``accept_unsigned``, which replays and checks the whole log instead), or the last entry
    is not included under it.
    """
    if size is None:
        size = int(
            conn.execute(select(LogHeadRow.tree_size).where(LogHeadRow.id == 1)).scalar_one()
        )
    if size == 0:
        return Head(0, EMPTY_ROOT, [], initial or StoreState(), 0)
    table = CheckpointRow.__table__
    cp = conn.execute(select(table).order_by(table.c.id.desc()).limit(1)).first()
    if cp is None:
        raise IntegrityError(
            f"the log has {size} entries but no signed checkpoint; they were written outside "
            f"skyfence. {HINT}"
        )
    signed = int(cp.tree_size)
    if signed > size:
        raise IntegrityError(
            f"the latest signed checkpoint covers {signed} entries but the log has {size}: "
            f"entries were deleted. {HINT}"
        )
    trusted = _trusted_key(conn, keys, cp.key_id)
    ok = False
    if trusted is not None and origin_hint is not None:  # usually the origin in force
        hinted = signed_message(origin_hint, signed, bytes(cp.root_hash), "", cp.key_id)
        ok = verify_signature(trusted, bytes(cp.signature), hinted)
    if not ok and trusted is not None:  # else read which origin the log had at that size
        origin = origin_at(conn, signed) if origin_at is not None else None
        message = signed_message(
            origin, signed, bytes(cp.root_hash), iso_utc(cp.created_at), cp.key_id
        )
        ok = verify_signature(trusted, bytes(cp.signature), message)
    if not ok:
        raise IntegrityError(
            f"the latest checkpoint (tree size {signed}, key {cp.key_id}) is not signed by a key "
            f"this store trusts: the checkpoint or the key table was edited. {HINT}"
        )
    if signed < size and not accept_unsigned:
        raise IntegrityError(
            f"log entries {signed}..{size - 1} are not covered by a signed checkpoint: they "
            "were appended outside skyfence. Inspect them with `skyfence log show --from "
            f"{signed}`; sign them only if they are genuine (`skyfence log checkpoint "
            "--accept-unsigned`)"
        )
    cover = perfect_cover(0, size)
    nodes = fetch_nodes(conn, cover + _path_keys(size - 1, size) + perfect_cover(0, signed))
    root = range_hash(0, size, nodes)
    frontier = [(level, nodes[(level, idx)]) for level, idx in cover]
    if range_hash(0, signed, nodes) != bytes(cp.root_hash):
        raise IntegrityError(
            f"the log's entries no longer fold to the root of its latest signed checkpoint "
            f"(tree size {signed}): the log tables were edited. {HINT}"
        )
    last = authenticated_entries(conn, size, root, [size - 1], nodes=nodes)[size - 1]
    if signed < size or "state" not in last:
        # an unsigned tail being accepted, or a log written before entries carried their
        # state: derive the state from the whole history
        replay, replay_root = _replay_all(conn, size, signed, bytes(cp.root_hash))
        if replay_root != root:
            raise IntegrityError(
                f"the log's entries do not fold to its stored Merkle nodes; {HINT}"
            )
        return Head(size, root, frontier, replay.state(), signed, cp.key_id, replay)
    try:
        state = StoreState.from_record(last["state"])
    except InputError as exc:
        raise IntegrityError(f"log entry {size - 1}: {exc}; {HINT}") from None
    return Head(size, root, frontier, state, signed, cp.key_id)


def _replay_all(
    conn: Connection, size: int, signed: int, signed_root: bytes
) -> tuple[Replay, bytes]:
    """Every entry hashed, chained and replayed: the state and root the entries give."""
    tree = MemoryTree()
    replay = Replay()
    rows = conn.execute(
        select(LogEntryRow.entry_index, LogEntryRow.entry_json)
        .where(LogEntryRow.entry_index < size)
        .order_by(LogEntryRow.entry_index)
    )
    for index, text in rows:
        if int(index) != len(tree):
            raise IntegrityError(f"log entry {len(tree)} is missing; {HINT}")
        entry = parse_entry(text, len(tree))
        if entry.get("index") != len(tree) or entry.get("prev_root") != tree.root().hex():
            raise IntegrityError(f"log entry {len(tree)} does not chain to the entries before it")
        problem = replay.feed(len(tree), entry)
        if problem is not None:
            raise IntegrityError(f"{problem}; {HINT}")
        tree.append(leaf_hash(text.encode("utf-8")))
        if len(tree) == signed and tree.root() != signed_root:
            raise IntegrityError(
                f"the entries do not match the latest signed checkpoint (tree size {signed}); "
                f"{HINT}"
            )
    if len(tree) != size:
        raise IntegrityError(f"log entries {len(tree)}..{size - 1} are missing; {HINT}")
    return replay, tree.root()


def authenticated_entries(
    conn: Connection,
    size: int,
    root: bytes,
    indices: Sequence[int],
    *,
    nodes: dict[NodeKey, bytes] | None = None,
) -> dict[int, dict[str, Any]]:
    """Entries ``indices``, each checked to hash to a leaf included under ``root``."""
    wanted = sorted({int(i) for i in indices})
    if not wanted:
        return {}
    for i in wanted:
        if not 0 <= i < size:
            raise IntegrityError(
                f"a table points at log entry {i}, beyond the log's {size}; {HINT}"
            )
    need = [k for i in wanted for k in _path_keys(i, size)]
    have = dict(nodes or {})
    missing = [k for k in need if k not in have]
    if missing:
        have.update(fetch_nodes(conn, missing))
    texts = dict(
        conn.execute(
            select(LogEntryRow.entry_index, LogEntryRow.entry_json).where(
                LogEntryRow.entry_index.in_(wanted)
            )
        ).all()
    )
    out: dict[int, dict[str, Any]] = {}
    for i in wanted:
        text = texts.get(i)
        if text is None:
            raise IntegrityError(f"log entry {i} is missing; {HINT}")
        leaf = leaf_hash(text.encode("utf-8"))
        path = [range_hash(a, b, have) for a, b in inclusion_ranges(i, size)]
        if not verify_inclusion(leaf, i, size, path, root):
            raise IntegrityError(
                f"log entry {i} was changed: it is not the entry the signed log holds; {HINT}"
            )
        out[i] = parse_entry(text, i)
    return out
