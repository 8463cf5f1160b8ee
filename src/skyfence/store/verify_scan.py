"""Reading a log export for :func:`~skyfence.store.verify.verify_export`, fast.

An export line is ``json.dumps(record, sort_keys=True, ensure_ascii=False)`` of a record
whose entry was parsed from its canonical JSON. For such a line of a plain entry (a kind the
state replay and the key/approval/origin bookkeeping ignore, no ``state``), the reader
parses it with the plain C parser, encodes the entry once with separators that cannot occur
inside a JSON string (``",\\x00"``, ``":\\x00"``), and takes from that one encoding both the
canonical bytes (the separators without ``\\x00``) and the line as the export writes it (the
separators with a space). The line must be exactly that text, so it has no duplicate key, no
NaN, no other spelling of a string, and the leaf hash is the one of its canonical entry. Runs
of consecutive such entries reach the verifier as :class:`Run` (the leaf hashes and the
claimed ``prev_root`` of each, 32 bytes apiece); any other line is read the strict way
(:func:`parse_line`, as :func:`~skyfence.store.verify.iter_export` does) and reaches it as
its record, so every check and every message stays the same.

Large exports are read by worker processes, chunk by chunk, while this process builds the
tree (``workers``); the chunks come back in file order.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from hashlib import sha256
from json.encoder import encode_basestring
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from skyfence.errors import ParseError
from skyfence.store.approvals import KEY_KIND
from skyfence.store.c2sp import ORIGIN_KINDS
from skyfence.store.canonical import _STRICT, loads_strict
from skyfence.store.merkle import EMPTY_ROOT, MemoryTree
from skyfence.store.state import APPLIED_KINDS

try:
    from _json import make_encoder as _c_encoder
except ImportError:  # pragma: no cover - CPython has it
    _c_encoder = None  # type: ignore[misc, assignment]

__all__ = ["EXPORT_FORMAT", "MAX_LINE_BYTES", "Run", "parse_line", "scan_export"]

EXPORT_FORMAT = "skyfence-transparency-log"

MAX_LINE_BYTES = 64 * 1024 * 1024
"""The longest line an export may have (one entry; a policy document with inline geometry
can be large, but not this large)."""

CHUNK_BYTES = 4 * 1024 * 1024
"""How much of the file one worker reads at a time (about 12,000 entries)."""

PARALLEL_MIN_BYTES = 32 * 1024 * 1024
"""Smaller exports are read in this process (starting workers costs more than it saves)."""

APPROVAL_KINDS = (KEY_KIND, "policy.request", "policy.approve")
SPECIAL_KINDS = frozenset((*APPROVAL_KINDS, *ORIGIN_KINDS, "key.create", "key.rotate"))
"""Entry kinds the verifier collects (keys, rotations, approvals, origins)."""

_NOT_PLAIN = SPECIAL_KINDS | APPLIED_KINDS


class Run(NamedTuple):
    """Consecutive plain entries, checked as far as one line allows: each line is the exact
    export of its record, its ``index`` is the entry's own and one more than the one
    before, its ``leaf_hash`` is the hash of its canonical entry, its ``prev_root`` is 64
    lowercase hex digits."""

    line: int  # of the first entry
    first_index: int
    leaves: bytes  # 32 bytes per entry
    prev_roots: bytes  # 32 bytes per entry, as claimed


class _Failure(NamedTuple):
    """A :class:`ParseError` to raise in file order (made again where it is raised)."""

    reason: str
    line: int


_Item = dict[str, Any] | Run | _Failure

_SCAN = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # the C parser; strictness comes from the line check


def _not_json(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} is not JSON")


def _encoder_marked() -> Callable[[Any], str]:
    """Canonical JSON with ``"\x00"`` after each separator (it is escaped inside strings,
    so it marks exactly the separators). The C encoder is made once, without the check
    for cycles (parsed JSON has none): ``JSONEncoder.encode`` makes a new one per call."""
    options = dict(sort_keys=True, separators=(",\x00", ":\x00"), ensure_ascii=False)
    if _c_encoder is None:  # pragma: no cover - CPython has the C encoder
        return json.JSONEncoder(**options, allow_nan=False).encode  # type: ignore[arg-type]
    encode = _c_encoder(
        None, _not_json, encode_basestring, None, ":\x00", ",\x00", True, False, False
    )
    return lambda obj: "".join(encode(obj, 0))


_ENCODE_MARKED = _encoder_marked()


def parse_line(line: str, number: int, source: str) -> dict[str, Any] | None:
    """The record on one line of an export (``None`` for a blank line), read strictly;
    :class:`ParseError` if it is not JSON, has a duplicate key, or is not a record."""
    if not line.strip():
        return None
    try:
        record = _STRICT.decode(line)
    except (ValueError, RecursionError):  # say why, as loads_strict does
        record = loads_strict(line, source=source, line=number)
    if not isinstance(record, dict) or record.get("type") not in (
        "header",
        "entry",
        "checkpoint",
    ):
        raise ParseError(
            "expected an object with type 'header', 'entry' or 'checkpoint'",
            source=source,
            line=number,
        )
    record["_line"] = number
    return record


def _plain(line: str) -> tuple[int, bytes, bytes] | None:
    """``(index, leaf hash, claimed prev_root)`` of a plain entry's line exactly as the
    export writes it, else ``None`` (the line is then read strictly)."""
    try:
        record, end = _SCAN(line, 0)
    except (StopIteration, ValueError, RecursionError):
        return None
    if end != len(line) or type(record) is not dict or record.get("type") != "entry":
        return None
    entry = record.get("entry")
    if type(entry) is not dict or "state" in entry:
        return None
    kind = entry.get("kind")
    if type(kind) is not str or kind in _NOT_PLAIN:
        return None
    try:
        marked = _ENCODE_MARKED(entry)
        leaf = sha256(b"\x00" + marked.replace("\x00", "").encode("utf-8")).digest()
    except (ValueError, RecursionError):  # NaN, a lone surrogate: not canonical JSON
        return None
    index = record.get("index")
    prev = entry.get("prev_root")
    leaf_hex = leaf.hex()
    if (
        type(index) is not int
        or entry.get("index") != index
        or record.get("leaf_hash") != leaf_hex
        or type(prev) is not str
        or len(prev) != 64
    ):
        return None
    try:
        prev_root = bytes.fromhex(prev)
    except ValueError:
        return None
    if prev_root.hex() != prev or line != (
        f'{{"entry": {marked.replace(chr(0), " ")}, "index": {index}, '
        f'"leaf_hash": "{leaf_hex}", "type": "entry"}}'
    ):
        return None
    return index, leaf, prev_root


def scan_chunk(data: bytes, first_line: int, source: str) -> list[_Item]:
    """The records and runs of plain entries in ``data`` (whole lines, the first numbered
    ``first_line``), in order; a line that cannot be read ends the list with its failure."""
    out: list[_Item] = []
    try:
        lines: list[str] | list[bytes] = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = data.split(b"\n")
    last = len(lines) - 1
    if not lines[last]:  # after the final newline
        lines.pop()
    leaves, prevs = bytearray(), bytearray()
    run_line = run_first = run_next = 0

    def flush() -> None:
        if leaves:
            out.append(Run(run_line, run_first, bytes(leaves), bytes(prevs)))
            del leaves[:], prevs[:]

    for i, text in enumerate(lines):
        number = first_line + i
        if type(text) is bytes:
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                flush()
                out.append(_Failure("not UTF-8 text; expected a JSON Lines log export", number))
                return out
        assert isinstance(text, str)
        plain = _plain(text)
        if plain is not None:
            index, leaf, prev_root = plain
            if not leaves or index != run_next:
                flush()
                run_line, run_first = number, index
            leaves += leaf
            prevs += prev_root
            run_next = index + 1
            continue
        flush()
        try:  # as readline gave it: with its newline, unless it is the file's last line
            record = parse_line(text + "\n" if i < last else text, number, source)
        except ParseError as exc:
            out.append(_Failure(exc.reason, number))
            return out
        if record is not None:
            out.append(record)
    flush()
    return out


def _chunks(fh: BinaryIO, size: int) -> Iterator[tuple[bytes, int, int] | _Failure]:
    """Whole lines of the file, about ``size`` bytes at a time, with the number of the
    first and their offset; a line longer than :data:`MAX_LINE_BYTES` (with its newline)
    is a failure."""
    number = 1
    offset = 0
    pending: list[bytes] = []  # the start of a line not ended yet
    pending_len = 0
    too_long = f"line longer than {MAX_LINE_BYTES // (1024 * 1024)} MiB; not a log export"
    size = min(size, MAX_LINE_BYTES)  # a line inside one block is then short enough
    while block := fh.read(size):
        nl = block.find(b"\n")
        if nl < 0:
            pending.append(block)
            pending_len += len(block)
            if pending_len > MAX_LINE_BYTES:
                yield _Failure(too_long, number)
                return
            continue
        if pending_len + nl + 1 > MAX_LINE_BYTES:
            yield _Failure(too_long, number)
            return
        end = block.rfind(b"\n") + 1
        data = b"".join((*pending, block[:end]))
        yield data, number, offset
        number += data.count(b"\n")
        offset += len(data)
        pending, pending_len = [block[end:]], len(block) - end
    if pending_len > MAX_LINE_BYTES:
        yield _Failure(too_long, number)
    elif pending_len:
        yield b"".join(pending), number, offset


def default_workers(path: Path) -> int:
    """Worker processes for reading ``path``: one per CPU (up to 4) for a large export when
    at least one CPU is idle (by the load average), none otherwise — on a saturated
    machine workers only add the cost of passing results — nor when this process runs
    threads (which a fork would not carry)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    try:
        large = path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        large = False
    if cpus < 2 or not large or "fork" not in get_all_start_methods():
        return 0
    try:
        idle = cpus - os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average
        idle = cpus
    return 0 if idle < 1 or threading.active_count() > 1 else min(cpus, 4)


def scan_export(path: str | Path, *, workers: int | None = None) -> Iterator[dict[str, Any] | Run]:
    """The records and :class:`Run` of an export, in order, checked as
    :func:`~skyfence.store.verify.iter_export` checks them (the same :class:`ParseError`
    for the same first bad line). ``workers``: processes reading it (``None``: as
    :func:`default_workers` says; 0 or 1: this process only)."""
    source = str(path)
    fh = open_export(path)
    if workers is None:
        workers = default_workers(Path(path))
    first = True
    with fh:
        for item in _scanned(fh, source, workers):
            if isinstance(item, _Failure):
                raise ParseError(item.reason, source=source, line=item.line)
            if first:
                line = item.line if isinstance(item, Run) else item["_line"]
                if isinstance(item, Run) or not is_header(item):
                    raise not_an_export(source, line)
                first = False
            yield item
    if first:
        raise empty_export(source)


def open_export(path: str | Path) -> BinaryIO:
    """The export at ``path`` opened for reading bytes, or a :class:`ParseError` saying why not."""
    try:
        return Path(path).open("rb")
    except FileNotFoundError:
        raise ParseError(
            "no such file; give the path written by `skyfence log export`", source=str(path)
        ) from None
    except OSError as exc:
        raise ParseError(f"cannot read it ({exc.strerror})", source=str(path)) from None


def is_header(record: dict[str, Any]) -> bool:
    """Whether ``record`` is an export's first line: its header, in this format."""
    return bool(record["type"] == "header" and record.get("format") == EXPORT_FORMAT)


def not_an_export(source: str, line: int) -> ParseError:
    """The error for a first line that is not the header."""
    return ParseError(
        f"not a skyfence log export: the first line must be a header with format "
        f"{EXPORT_FORMAT!r} (write one with `skyfence log export FILE`)",
        source=source,
        line=line,
    )


def empty_export(source: str) -> ParseError:
    """The error for an export without a record."""
    return ParseError(
        "the file is empty; expected a log export (`skyfence log export FILE`)",
        source=source,
        line=1,
    )


def _scanned(fh: BinaryIO, source: str, workers: int) -> Iterator[_Item]:
    if workers <= 1:
        for chunk in _chunks(fh, CHUNK_BYTES):
            if isinstance(chunk, _Failure):
                yield chunk
                return
            data, number, _ = chunk
            yield from scan_chunk(data, number, source)
        return
    ahead: deque[Future[list[_Item]] | _Failure] = deque()
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        try:
            for chunk in _chunks(fh, CHUNK_BYTES):
                if isinstance(chunk, _Failure):
                    ahead.append(chunk)
                    break
                data, number, offset = chunk  # read again there: cheaper than sent
                lines = data.count(b"\n")
                job = (source, offset, len(data), lines, number)
                ahead.append(pool.submit(_scan_part, *job))
                if len(ahead) > 2 * workers:
                    yield from _done(ahead.popleft())
            while ahead:
                yield from _done(ahead.popleft())
        finally:
            for pending in ahead:
                if isinstance(pending, Future):
                    pending.cancel()


def _scan_part(source: str, offset: int, size: int, lines: int, number: int) -> list[_Item]:
    """:func:`scan_chunk` of ``size`` bytes of the file at ``offset`` (in a worker)."""
    with open(source, "rb") as fh:
        fh.seek(offset)
        data = fh.read(size)
    if len(data) != size or data.count(b"\n") != lines:
        return [_Failure("the file changed while it was read; verify a copy of it", number)]
    return scan_chunk(data, number, source)


def _done(item: Future[list[_Item]] | _Failure) -> list[_Item]:
    return [item] if type(item) is _Failure else item.result()  # type: ignore[union-attr]


class RunningTree(MemoryTree):
    """A :class:`MemoryTree` that also gives the root of its current size cheaply (each
    entry's ``prev_root``): it keeps the perfect subtrees of the current size (the
    frontier, largest first, each hash kept behind the node prefix ``0x01`` it is always
    hashed with as a left child), made by the same hashes as the tree itself."""

    def __init__(self) -> None:
        super().__init__()
        self.frontier: list[bytes] = []  # b"\x01" + hash

    def append(self, leaf: bytes) -> None:
        self.extend(leaf)

    def current_root(self) -> bytes:
        """MTH of all the leaves so far: the frontier folded from the smallest up."""
        frontier = self.frontier
        if not frontier:
            return EMPTY_ROOT
        sha = sha256
        r = frontier[-1][1:]
        for left in frontier[-2::-1]:
            r = sha(left + r).digest()
        return r

    def extend(self, leaves: bytes, prev_roots: bytes | None = None) -> int:
        """Append the 32-byte ``leaves``; with ``prev_roots``, stop before the first leaf
        whose claimed root is not the root of the tree before it. How many were appended."""
        sha = sha256
        levels = self.levels
        frontier = self.frontier
        nodes = levels[0]
        for k in range(0, len(leaves), 32):
            if prev_roots is not None:
                if frontier:
                    r = frontier[-1][1:]
                    for left in frontier[-2::-1]:
                        r = sha(left + r).digest()
                else:
                    r = EMPTY_ROOT
                if r != prev_roots[k : k + 32]:
                    return k // 32
            h = leaves[k : k + 32]
            nodes.append(h)
            level, idx = 0, len(nodes) - 1
            while idx & 1:
                h = sha(frontier.pop() + h).digest()
                level, idx = level + 1, idx >> 1
                if len(levels) == level:
                    levels.append([])
                levels[level].append(h)
            frontier.append(b"\x01" + h)
        return len(leaves) // 32
