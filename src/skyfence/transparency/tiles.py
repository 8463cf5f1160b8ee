"""Tiled transparency logs (c2sp.org/tlog-tiles): paths, entry bundles, and a verifier.

A log of ``size`` entries is served as static files under a prefix:

- ``checkpoint`` — the signed checkpoint note;
- ``tile/<L>/<N>[.p/<W>]`` — 256 (or, for the rightmost, ``W`` < 256) consecutive 32-byte
  hashes at tree level ``8 * L``: hash ``i`` of tile ``N`` is
  ``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])``;
- ``tile/entries/<N>[.p/<W>]`` — the entries themselves, each a big-endian uint16 length and
  the entry bytes.

``N`` is written in groups of three digits, all but the last prefixed with ``x``:
``1234067`` → ``x001/x234/067``.

:func:`verify_tiles` reads such a log through any ``read(path) -> bytes`` (a directory, a
mirror, an HTTP client) and checks the checkpoint's signatures and witness quorum, every
entry against its level-0 hash, every higher tile against the tiles below it, and the root
against the checkpoint.

Examples
--------
>>> tile_path(0, 1234067)
'tile/0/x001/x234/067'
>>> tile_path(1, 0, 17)
'tile/1/000.p/17'
>>> [t for t in tiles_for_size(257)]
[(0, 0, 256), (0, 1, 1), (1, 0, 1)]
>>> decode_bundle(encode_bundle([b"a", b"bc"]))
[b'a', b'bc']
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from skyfence.errors import IntegrityError, NotFoundError, ParseError
from skyfence.transparency.checkpoint import VerifiedCheckpoint, verify_checkpoint
from skyfence.transparency.merkle import EMPTY_ROOT, leaf_hash, node_hash
from skyfence.transparency.note import Verifier

__all__ = [
    "TILE_WIDTH",
    "HASH_SIZE",
    "tile_path",
    "entries_path",
    "parse_tile_path",
    "tiles_for_size",
    "encode_bundle",
    "decode_bundle",
    "tile_hash_root",
    "TilesReport",
    "verify_tiles",
    "directory_reader",
]

TILE_WIDTH = 256
HASH_SIZE = 32
MAX_ENTRY_BYTES = 0xFFFF


def _encode_index(index: int) -> str:
    if index < 0:
        raise ParseError(f"a tile index must be >= 0, not {index}")
    groups = []
    while True:
        groups.append(index % 1000)
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{g:03d}" for g in groups[:-1]] + [f"{groups[-1]:03d}"])


def _suffix(width: int | None) -> str:
    if width is None or width == TILE_WIDTH:
        return ""
    if not 1 <= width < TILE_WIDTH:
        raise ParseError(f"a partial tile has 1..255 hashes, not {width}")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """``tile/<L>/<N>[.p/<W>]`` (``width`` 256 or ``None``: a full tile)."""
    if not 0 <= level <= 63:
        raise ParseError(f"a tile level is 0..63, not {level}")
    return f"tile/{level}/{_encode_index(index)}{_suffix(width)}"


def entries_path(index: int, width: int | None = None) -> str:
    """``tile/entries/<N>[.p/<W>]``."""
    return f"tile/entries/{_encode_index(index)}{_suffix(width)}"


def parse_tile_path(path: str) -> tuple[str, int, int]:
    """``(level or "entries", index, width)`` of a tile path; :class:`NotFoundError` if it
    is not one (the answer an HTTP server gives)."""
    bad = NotFoundError(
        f"{path!r} is not a tile path; expected checkpoint, tile/<L>/<N>[.p/<W>] or "
        "tile/entries/<N>[.p/<W>]"
    )
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise bad
    level = parts[1]
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = rest[-1]
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < TILE_WIDTH:
            raise bad
        width = int(w)
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest:
        raise bad
    for g in rest[:-1]:
        if len(g) != 4 or g[0] != "x" or not g[1:].isdigit():
            raise bad
    if len(rest[-1]) != 3 or not rest[-1].isdigit():
        raise bad
    index = int("".join(g.lstrip("x") for g in rest))
    if level == "entries":
        return "entries", index, width
    if not level.isdigit() or (len(level) > 1 and level[0] == "0") or int(level) > 63:
        raise bad
    if _encode_index(index) != "/".join(rest):
        raise bad
    return level, index, width


def tiles_for_size(size: int) -> Iterator[tuple[int, int, int]]:
    """``(level, index, width)`` of every hash tile a tree of ``size`` entries has."""
    level = 0
    while True:
        count = size // TILE_WIDTH**level  # hashes at tree level 8*level
        if count == 0:
            return
        full, partial = divmod(count, TILE_WIDTH)
        for index in range(full):
            yield level, index, TILE_WIDTH
        if partial:
            yield level, full, partial
        level += 1


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Entries as a bundle: each a big-endian uint16 length and the bytes."""
    out = bytearray()
    for number, entry in enumerate(entries):
        if len(entry) > MAX_ENTRY_BYTES:
            raise ParseError(
                f"entry {number} of the bundle has {len(entry)} bytes; tlog-tiles entry bundles "
                f"hold entries of at most {MAX_ENTRY_BYTES} bytes"
            )
        out += struct.pack(">H", len(entry)) + entry
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """The entries of a bundle; :class:`ParseError` if it is cut short."""
    out = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise ParseError("entry bundle ends inside a length prefix")
        (n,) = struct.unpack(">H", data[at : at + 2])
        if at + 2 + n > len(data):
            raise ParseError("entry bundle ends inside an entry")
        out.append(data[at + 2 : at + 2 + n])
        at += 2 + n
    return out


def tile_hash_root(hashes: Sequence[bytes]) -> bytes:
    """The Merkle hash of a full tile's 256 hashes (a perfect subtree of height 8)."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _root_of(levels: list[list[bytes]], size: int) -> bytes:
    """MTH of the first ``size`` leaves from the per-level perfect-subtree hashes.

    ``levels[h]`` holds the hashes of the perfect subtrees of ``2**h`` leaves (left to right).
    """
    if size == 0:
        return EMPTY_ROOT
    parts = []  # the perfect subtrees covering [0, size), left to right
    start = 0
    for h in reversed(range(size.bit_length())):
        if size & (1 << h):
            parts.append(levels[h][start >> h])
            start += 1 << h
    root = parts[-1]
    for part in reversed(parts[:-1]):
        root = node_hash(part, root)
    return root


@dataclass(frozen=True)
class TilesReport:
    """What :func:`verify_tiles` checked."""

    checkpoint: VerifiedCheckpoint
    entries: int
    tiles: int
    bundles: int
    warnings: list[str] = field(default_factory=list)


def verify_tiles(
    read: Callable[[str], bytes],
    log: Verifier | Sequence[Verifier],
    *,
    witnesses: Sequence[Verifier] = (),
    quorum: int = 0,
    origin: str | None = None,
    trusted: tuple[int, bytes] | None = None,
    skyfence_entries: bool = True,
) -> TilesReport:
    """Verify a tiled log read through ``read(path)``.

    Checks the checkpoint note (log key, ``quorum`` of ``witnesses``), that every entry
    bundle hashes to its level-0 tile, that every tile above level 0 holds the hashes of the
    full tiles below it, and that the tree's root is the checkpoint's. ``trusted`` is a
    ``(size, root)`` seen before: the log must still contain it (no rollback, no fork).
    With ``skyfence_entries`` each entry must be skyfence's JSON whose ``index`` is its
    position and whose ``prev_root`` is the root of the entries before it.

    Raises :class:`~skyfence.errors.IntegrityError` naming the first problem.
    """
    cp = verify_checkpoint(
        read("checkpoint"), log, witnesses=witnesses, quorum=quorum, origin=origin
    )
    size = cp.size
    # levels[h]: hashes of perfect subtrees of 2**h leaves; filled from the leaves upward
    leaves: list[bytes] = []
    bundles = 0
    prev: list[tuple[int, bytes]] = []  # frontier of (height, hash) for prev_root checks
    for index in range(0, size, TILE_WIDTH):
        n = index // TILE_WIDTH
        width = min(TILE_WIDTH, size - index)
        path = entries_path(n, width)
        try:
            entries = decode_bundle(read(path))
        except ParseError as exc:
            raise IntegrityError(f"{path}: {exc}") from None
        bundles += 1
        if len(entries) != width:
            raise IntegrityError(f"{path} holds {len(entries)} entries, expected {width}")
        level0 = tile_path(0, n, width)
        tile = read(level0)
        if len(tile) != width * HASH_SIZE:
            raise IntegrityError(f"{level0} has {len(tile)} bytes, expected {width * HASH_SIZE}")
        for k, entry in enumerate(entries):
            i = index + k
            h = leaf_hash(entry)
            if tile[k * HASH_SIZE : (k + 1) * HASH_SIZE] != h:
                raise IntegrityError(
                    f"entry {i} does not hash to its leaf hash in {level0}: the entry (in "
                    f"{path}) or the tile was changed"
                )
            if skyfence_entries:
                _check_skyfence_entry(i, entry, prev)
            leaves.append(h)
            height = 0
            while prev and prev[-1][0] == height:
                h = node_hash(prev.pop()[1], h)
                height += 1
            prev.append((height, h))
    # perfect subtree hashes at every height, from the leaves
    levels: list[list[bytes]] = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    tiles = 0
    for level, n, width in tiles_for_size(size):
        if level == 0:  # checked against the entries above
            tiles += 1
            continue
        path = tile_path(level, n, width)
        data = read(path)
        expected = levels[8 * level][n * TILE_WIDTH : n * TILE_WIDTH + width]
        if len(data) != width * HASH_SIZE:
            raise IntegrityError(f"{path} has {len(data)} bytes, expected {width * HASH_SIZE}")
        got = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            if a != b:
                what = "the entries" if level == 0 else f"the tiles of level {level - 1}"
                raise IntegrityError(
                    f"{path}: hash {i} does not match {what} (entry range starting at "
                    f"{(n * TILE_WIDTH + i) * TILE_WIDTH**level})"
                )
        tiles += 1
    root = _root_of(levels, size)
    if root != cp.root_hash:
        raise IntegrityError(
            f"the entries' Merkle root is not the checkpoint's (tree size {size}): the tiles "
            "and the checkpoint are from different trees"
        )
    if trusted is not None:
        old_size, old_root = trusted
        if old_size > size:
            raise IntegrityError(
                f"the checkpoint you trust covers {old_size} entries but the log has {size}: "
                "the log was rolled back"
            )
        if _root_of(levels, old_size) != old_root:
            raise IntegrityError(
                f"the first {old_size} entries are not the ones of the checkpoint you trust: "
                "the log forked (a split view)"
            )
    return TilesReport(cp, size, tiles, bundles)


def _check_skyfence_entry(i: int, entry: bytes, frontier: list[tuple[int, bytes]]) -> None:
    try:
        parsed = json.loads(entry)
    except ValueError:
        raise IntegrityError(f"entry {i} is not JSON (not a skyfence log entry)") from None
    if not isinstance(parsed, dict) or parsed.get("index") != i:
        said = parsed.get("index") if isinstance(parsed, dict) else None
        raise IntegrityError(f"entry {i} is not skyfence's entry {i} (it says {said!r})")
    root = EMPTY_ROOT
    if frontier:
        root = frontier[-1][1]
        for _, h in reversed(frontier[:-1]):
            root = node_hash(h, root)
    if parsed.get("prev_root") != root.hex():
        raise IntegrityError(
            f"entry {i} does not follow entries 0..{i - 1}: its prev_root is not their root"
        )


def directory_reader(directory: str | Path) -> Callable[[str], bytes]:
    """``read(path)`` over a local copy of a tiled log (as ``skyfence log tiles`` writes)."""
    base = Path(directory)

    def read(path: str) -> bytes:
        target = base / path
        try:
            return target.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{path} is missing from {base}") from None
        except OSError as exc:
            raise IntegrityError(f"cannot read {target}: {exc.strerror}") from None

    return read
