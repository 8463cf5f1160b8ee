"""Terminal telemetry: the location reports terminals send, read in chunks and validated.

A telemetry file has one row per report with the columns

``terminal_id, time, latitude_deg, longitude_deg[, altitude_m, speed_kmh]``

as CSV (with a header), JSON Lines (one object per line) or Parquet. ``time`` is ISO 8601
text (``2026-02-01T12:00:00Z``; no offset means UTC) or, in Parquet, a timestamp column.
Any other column (a scenario's ground-truth ``label`` for one) is never read: the detectors
get only these columns, so nothing they do can depend on it.

Files are read block by block (CSV and JSON Lines in blocks of whole lines parsed by
pyarrow, Parquet by row groups), so the text of a file never sits in memory whole; what is
kept is a compact columnar :class:`Telemetry` of 44 bytes per row (10 million rows: 440 MB).
Bad rows are never dropped silently: by default the first bad row stops the read with its
line number; with ``on_invalid="skip"`` the bad rows are left out and listed in
:attr:`Telemetry.rejected` with their line numbers and what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skyfence.detect._io import atomic_path
from skyfence.errors import InputError, ParseError

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "FORMATS",
    "Rejected",
    "Telemetry",
    "read_telemetry",
    "write_telemetry",
    "read_column",
    "telemetry_format",
]

#: Columns of a telemetry file, in order; the last two are optional.
COLUMNS: tuple[str, ...] = (
    "terminal_id",
    "time",
    "latitude_deg",
    "longitude_deg",
    "altitude_m",
    "speed_kmh",
)
REQUIRED_COLUMNS: tuple[str, ...] = COLUMNS[:4]
#: File formats by suffix.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: How many bad rows :attr:`Telemetry.rejected` lists (all are counted).
MAX_LISTED = 1000

_BLOCK_BYTES = 16 << 20
_FLOAT_RE = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_ZONE_RE = r"([Zz]|[+-]\d\d:?\d\d)$"
_TIME_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?([Zz]|[+-]\d\d:?\d\d)?$"
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Rejected:
    """A row that was left out: where it is (``line`` of the file, or row of a Parquet
    file counted from 1) and what is wrong with it."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True, eq=False)
class Telemetry:
    """Location reports as columns, one entry per report.

    Attributes
    ----------
    terminal : int32 (N,)
        Index of each report's terminal into :attr:`terminal_ids`.
    terminal_ids : object (T,)
        The terminal ids, in order of first appearance in the file.
    time_ns : int64 (N,)
        UTC time of each report, nanoseconds since 1970 (``datetime64[ns]`` as int64).
    latitude_deg, longitude_deg : float64 (N,)
    altitude_m, speed_kmh : float64 (N,)
        As reported; NaN where the report had none.
    line : int64 (N,)
        Where each report is in its file (line number; for Parquet the row counted from 1).
    source : str
        Where the reports came from (a file name), for messages.
    rejected : tuple of Rejected
        The bad rows that were left out (``on_invalid="skip"``), at most :data:`MAX_LISTED`.
    rejected_count : int
        How many rows were left out in all.
    """

    terminal: np.ndarray
    terminal_ids: np.ndarray
    time_ns: np.ndarray
    latitude_deg: np.ndarray
    longitude_deg: np.ndarray
    altitude_m: np.ndarray
    speed_kmh: np.ndarray
    line: np.ndarray
    source: str = "<telemetry>"
    rejected: tuple[Rejected, ...] = ()
    rejected_count: int = 0
    _sorted: bool = field(default=False, repr=False)

    def __len__(self) -> int:
        return int(self.terminal.shape[0])

    @property
    def n_terminals(self) -> int:
        """Number of distinct terminal ids."""
        return int(self.terminal_ids.shape[0])

    @property
    def times(self) -> np.ndarray:
        """Report times as ``datetime64[ns]``."""
        return self.time_ns.view("datetime64[ns]")

    def ids(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Terminal id of each report (or of ``rows``), as an object array."""
        codes = self.terminal if rows is None else self.terminal[rows]
        return self.terminal_ids[codes]

    @classmethod
    def from_columns(
        cls,
        terminal_id: Sequence[str] | np.ndarray,
        time: Any,
        latitude_deg: Any,
        longitude_deg: Any,
        altitude_m: Any = None,
        speed_kmh: Any = None,
        *,
        source: str = "<columns>",
    ) -> Telemetry:
        """Build from in-memory columns (validated as a file would be; bad rows raise).

        ``time`` is ``datetime64`` or ISO 8601 text. Examples
        --------
        >>> t = Telemetry.from_columns(["a", "a"], ["2026-02-01T00:00:00Z",
        ...     "2026-02-01T00:05:00Z"], [50.0, 50.01], [30.0, 30.0])
        >>> len(t), t.terminal_ids.tolist()
        (2, ['a'])
        """
        ids = np.asarray(terminal_id)
        n = ids.shape[0]
        columns: dict[str, Any] = {
            "terminal_id": pa.array(ids.astype(str).tolist() if n else [], pa.string()),
            "latitude_deg": pa.array(np.asarray(latitude_deg, np.float64), from_pandas=True),
            "longitude_deg": pa.array(np.asarray(longitude_deg, np.float64), from_pandas=True),
        }
        t = np.asarray(time)
        if t.dtype.kind == "M":
            columns["time"] = pa.array(t.astype("datetime64[ns]"))
        else:
            columns["time"] = pa.array(t.astype(str).tolist() if n else [], pa.string())
        for name, value in (("altitude_m", altitude_m), ("speed_kmh", speed_kmh)):
            if value is not None:
                columns[name] = pa.array(np.asarray(value, np.float64), from_pandas=True)
        builder = _Builder(source, "raise")
        builder.add(pa.table(columns), np.arange(1, n + 1, dtype=np.int64))
        return builder.finish()

    def take(self, rows: np.ndarray) -> Telemetry:
        """A new telemetry with only ``rows`` (same terminal ids)."""
        return Telemetry(
            self.terminal[rows],
            self.terminal_ids,
            self.time_ns[rows],
            self.latitude_deg[rows],
            self.longitude_deg[rows],
            self.altitude_m[rows],
            self.speed_kmh[rows],
            self.line[rows],
            self.source,
            self.rejected,
            self.rejected_count,
        )

    def sorted(self) -> Telemetry:
        """Reports ordered by terminal, then time (stable: file order breaks ties).

        Already sorted telemetry is returned as is (checked in one pass).
        """
        if self._sorted:
            return self
        term, t = self.terminal, self.time_ns
        if len(self) < 2 or bool(
            np.all((term[1:] > term[:-1]) | ((term[1:] == term[:-1]) & (t[1:] >= t[:-1])))
        ):
            order = None
        else:
            order = np.lexsort((t, term))
        out = self if order is None else self.take(order)
        object.__setattr__(out, "_sorted", True)
        return out

    def is_sorted(self) -> bool:
        """Whether the reports are known to be ordered by terminal, then time."""
        return self._sorted


# --------------------------------------------------------------------------- reading
def telemetry_format(path: str | Path, fmt: str | None = None) -> str:
    """The format of a telemetry file: ``fmt`` if given, else from the suffix."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl", "parquet"):
            raise InputError(f"telemetry format {fmt!r} is not one of csv, jsonl, parquet")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            f"cannot tell the format of {path}: expected a file name ending in "
            f"{', '.join(FORMATS)} (CSV, JSON Lines or Parquet)"
        )
    return FORMATS[suffix]


def read_telemetry(
    path: str | Path,
    *,
    fmt: str | None = None,
    on_invalid: str = "raise",
    block_bytes: int = _BLOCK_BYTES,
    progress: Callable[[int, int], None] | None = None,
) -> Telemetry:
    """Read and validate a telemetry file (CSV, JSON Lines or Parquet), block by block.

    Parameters
    ----------
    path : str or Path
    fmt : {"csv", "jsonl", "parquet"}, optional
        Default: from the suffix (``.csv``, ``.jsonl``/``.ndjson``/``.json``, ``.parquet``).
    on_invalid : {"raise", "skip"}
        ``"raise"``: a bad row raises :class:`~skyfence.errors.ParseError` with its line
        number. ``"skip"``: bad rows are left out and listed in ``Telemetry.rejected``.
    block_bytes : int
        Size of the blocks of whole lines parsed at a time (CSV and JSON Lines).
    progress : callable, optional
        ``progress(bytes_done, bytes_total)`` (rows for Parquet).

    Returns
    -------
    Telemetry
        In file order; call :meth:`Telemetry.sorted` to order by terminal and time.
    """
    if on_invalid not in ("raise", "skip"):
        raise InputError(f"on_invalid must be 'raise' or 'skip', got {on_invalid!r}")
    path = Path(path)
    kind = telemetry_format(path, fmt)
    if not path.is_file():
        raise InputError(f"telemetry file {path} does not exist")
    builder = _Builder(str(path), on_invalid)
    if kind == "parquet":
        _read_parquet(path, builder, progress)
    else:
        _read_text(path, kind, builder, block_bytes, progress)
    return builder.finish()


def read_column(path: str | Path, name: str, *, fmt: str | None = None) -> np.ndarray:
    """One column of a telemetry file as text, in file order (e.g. a scenario's ``label``).

    The detectors never call this; evaluation code does, to compare findings with ground
    truth. Rows are all the file's data rows (bad ones included), so read the telemetry
    with ``on_invalid="raise"`` when the two must line up.
    """
    path = Path(path)
    kind = telemetry_format(path, fmt)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path, columns=[name])
        except (pa.ArrowInvalid, KeyError):
            raise InputError(f"{path} has no column {name!r}") from None
        return np.asarray(table.column(name).to_pylist(), dtype=object)
    values: list[Any] = []
    with open(path, encoding="utf-8", newline="") as fh:
        if kind == "csv":
            reader = csv.DictReader(fh)
            if name not in (reader.fieldnames or ()):
                raise InputError(f"{path} has no column {name!r}")
            values = [row[name] for row in reader]
        else:
            for text in fh:
                if text.strip():
                    values.append(json.loads(text).get(name))
    return np.asarray(values, dtype=object)


def _read_parquet(
    path: Path, builder: _Builder, progress: Callable[[int, int], None] | None
) -> None:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ParseError(f"not a readable Parquet file ({exc})", source=str(path)) from None
    names = pf.schema_arrow.names
    _check_header(names, str(path))
    wanted = [c for c in COLUMNS if c in names]
    total = pf.metadata.num_rows
    done = 0
    for batch in pf.iter_batches(batch_size=1 << 20, columns=wanted):
        rows = np.arange(done + 1, done + batch.num_rows + 1, dtype=np.int64)
        builder.add(pa.Table.from_batches([batch]), rows)
        done += batch.num_rows
        if progress is not None:
            progress(done, total)


def _check_header(names: Sequence[str], source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ParseError(
            f"missing column(s) {', '.join(missing)}: a telemetry file needs "
            f"{', '.join(REQUIRED_COLUMNS)} (optional: altitude_m, speed_kmh); "
            f"it has {', '.join(map(str, names)) or 'none'}",
            source=source,
        )


def _blocks(fh: Any, block_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines (the last may lack its newline)."""
    rest = b""
    while True:
        chunk = fh.read(block_bytes)
        if not chunk:
            if rest:
                yield rest
            return
        data = rest + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1 :]
        yield data[: cut + 1]


def _line_starts(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """For each line of ``block``: whether it is blank, and its length."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    if block and block[-1:] != b"\n":
        ends = np.append(ends, len(block))
    starts = np.r_[0, ends[:-1] + 1] if ends.size else np.zeros(0, dtype=np.int64)
    length = ends - starts
    cr = np.zeros(ends.shape, dtype=bool)
    has = length > 0
    cr[has] = buf[np.minimum(ends[has] - 1, len(buf) - 1)] == 13
    blank = (length == 0) | ((length == 1) & cr)
    return blank, length


def _read_text(
    path: Path,
    kind: str,
    builder: _Builder,
    block_bytes: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    total = path.stat().st_size
    done = 0
    line_no = 0  # lines consumed so far
    header: bytes | None = None
    with open(path, "rb") as fh:
        if kind == "csv":
            first = fh.readline()
            done += len(first)
            line_no = 1
            try:
                text = first.decode("utf-8-sig").strip()
            except UnicodeDecodeError:
                raise ParseError("the header is not UTF-8 text", source=str(path), line=1) from None
            names = next(csv.reader([text]), [])
            names = [n.strip() for n in names]
            _check_header(names, str(path))
            header = (",".join(names) + "\n").encode()
            builder.csv_names = names
        for block in _blocks(fh, block_bytes):
            blank, _ = _line_starts(block)
            lines = line_no + 1 + np.flatnonzero(~blank)
            line_no += blank.shape[0]
            if lines.size:
                if kind == "csv":
                    assert header is not None
                    _parse_csv_block(header + block, lines, builder)
                else:
                    _parse_json_block(block, lines, builder)
            done += len(block)
            if progress is not None:
                progress(done, total)


def _parse_csv_block(data: bytes, lines: np.ndarray, builder: _Builder) -> None:
    import pyarrow.csv as pcsv

    names = builder.csv_names
    wanted = [c for c in COLUMNS if c in names]
    structural: list[int] = []

    def on_bad_row(row: Any) -> str:
        structural.append(1)
        return "skip"

    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(use_threads=False, block_size=len(data) + 1),
            parse_options=pcsv.ParseOptions(invalid_row_handler=on_bad_row),
            convert_options=pcsv.ConvertOptions(
                include_columns=wanted,
                column_types=dict.fromkeys(wanted, pa.string()),
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        table = None
    pending: list[Rejected] = []
    if table is None or structural or table.num_rows != lines.shape[0]:
        table, lines, pending = _csv_slow(data, lines, names, wanted)
    builder.add(table, lines, pending)


def _csv_slow(
    data: bytes, lines: np.ndarray, names: list[str], wanted: list[str]
) -> tuple[pa.Table, np.ndarray, list[Rejected]]:
    """Parse a block with Python's csv module, row by row, to find the bad lines."""
    text_lines = data.split(b"\n")[1:]  # drop the header line
    cols: dict[str, list[str]] = {c: [] for c in wanted}
    where = [names.index(c) for c in wanted]
    good: list[int] = []
    pending: list[Rejected] = []
    k = 0
    for raw in text_lines:
        if not raw.strip(b"\r"):
            continue
        if k >= lines.shape[0]:
            break
        line = int(lines[k])
        k += 1
        try:
            text = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            pending.append(Rejected(line, "the line is not UTF-8 text"))
            continue
        fields = next(csv.reader([text]), [])
        if len(fields) != len(names):
            pending.append(
                Rejected(
                    line, f"expected {len(names)} fields ({', '.join(names)}), got {len(fields)}"
                )
            )
            continue
        for c, i in zip(wanted, where, strict=True):
            cols[c].append(fields[i])
        good.append(line)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()})
    return table, np.asarray(good, dtype=np.int64), pending


def _parse_json_block(data: bytes, lines: np.ndarray, builder: _Builder) -> None:
    import pyarrow.json as pj

    table = None
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        table = None
    if table is not None and table.num_rows == lines.shape[0]:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing and table.num_rows:
            _check_header(table.column_names, builder.source)
        kept = [c for c in COLUMNS if c in table.column_names]
        builder.add(table.select(kept), lines)
        return
    # slow path: one line at a time, to name the bad lines
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    good: list[int] = []
    pending: list[Rejected] = []
    k = 0
    for raw in data.split(b"\n"):
        if not raw.strip(b"\r"):
            continue
        if k >= lines.shape[0]:
            break
        line = int(lines[k])
        k += 1
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            pending.append(Rejected(line, f"not a JSON object ({getattr(exc, 'msg', exc)})"))
            continue
        if not isinstance(obj, dict):
            pending.append(Rejected(line, "expected a JSON object per line"))
            continue
        missing = [c for c in REQUIRED_COLUMNS if obj.get(c) is None]
        if missing:
            pending.append(Rejected(line, f"missing {', '.join(missing)}"))
            continue
        for c in COLUMNS:
            value = obj.get(c)
            cols[c].append(None if value is None else str(value))
        good.append(line)
    table = pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()})
    builder.add(table, np.asarray(good, dtype=np.int64), pending)


# --------------------------------------------------------------------------- validation
class _Builder:
    """Validates parsed blocks and collects the good rows as numpy columns."""

    def __init__(self, source: str, on_invalid: str) -> None:
        self.source = source
        self.on_invalid = on_invalid
        self.csv_names: list[str] = []
        self.codes: dict[str, int] = {}
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in (*COLUMNS, "line")}
        self.rejected: list[Rejected] = []
        self.rejected_count = 0

    def reject(self, line: int, reason: str) -> None:
        if self.on_invalid == "raise":
            raise ParseError(
                f"{reason} (a report needs {', '.join(REQUIRED_COLUMNS)} and may have "
                "altitude_m, speed_kmh; fix the row or read with on_invalid='skip' / "
                "--on-invalid skip to leave bad rows out and list them)",
                source=self.source,
                line=int(line),
            )
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(Rejected(int(line), reason))

    def add(self, table: pa.Table, lines: np.ndarray, pending: Sequence[Rejected] = ()) -> None:
        """Validate a parsed block whose rows are at ``lines``; ``pending`` are the rows of
        the block that could not even be parsed."""
        n = table.num_rows
        if n == 0:
            for r in pending:
                self.reject(r.line, r.reason)
            return
        for c in REQUIRED_COLUMNS:
            if c not in table.column_names:
                _check_header(table.column_names, self.source)
        bad = np.zeros(n, dtype=bool)
        why = np.full(n, "", dtype=object)

        def flag(mask: np.ndarray, reason: Callable[[int], str]) -> None:
            new = mask & ~bad
            for i in np.flatnonzero(new)[:MAX_LISTED].tolist():
                why[i] = reason(i)
            bad[new] = True

        ids_col = table.column("terminal_id")
        if not pa.types.is_string(ids_col.type) and not pa.types.is_large_string(ids_col.type):
            ids_col = pc.cast(ids_col, pa.string())
        ids_arr = ids_col.combine_chunks() if isinstance(ids_col, pa.ChunkedArray) else ids_col
        stripped = pc.utf8_trim_whitespace(ids_arr)
        empty = np.asarray(pc.fill_null(pc.equal(stripped, ""), True), dtype=bool)
        flag(empty, lambda i: "terminal_id is empty")

        t = _times(table.column("time"))
        flag(
            t == _NAT,
            lambda i: (
                f"time {_text(table, 'time', i)!r} is not ISO 8601 such as 2026-02-01T12:00:00Z"
            ),
        )
        lat = _floats(table.column("latitude_deg"))
        lon = _floats(table.column("longitude_deg"))
        flag(
            ~np.isfinite(lat),
            lambda i: f"latitude_deg {_text(table, 'latitude_deg', i)!r} is not a number",
        )
        flag(
            ~np.isfinite(lon),
            lambda i: f"longitude_deg {_text(table, 'longitude_deg', i)!r} is not a number",
        )
        flag(np.abs(lat) > 90, lambda i: f"latitude_deg {lat[i]:g} is outside -90..90")
        flag(np.abs(lon) > 180, lambda i: f"longitude_deg {lon[i]:g} is outside -180..180")
        optional = {}
        for name in ("altitude_m", "speed_kmh"):
            if name in table.column_names:
                col = table.column(name)
                values = _floats(col, blank_is_nan=True)
                given = _given(col)
                flag(
                    given & ~np.isfinite(values),
                    lambda i, name=name: f"{name} {_text(table, name, i)!r} is not a number",
                )
                optional[name] = values
            else:
                optional[name] = np.full(n, np.nan)
        flag(
            optional["speed_kmh"] < 0,
            lambda i: f"speed_kmh {optional['speed_kmh'][i]:g} is negative",
        )
        found = [Rejected(int(lines[i]), str(why[i]) or "invalid row") for i in np.flatnonzero(bad)]
        for r in sorted([*pending, *found], key=lambda r: r.line):  # "raise" names the first
            self.reject(r.line, r.reason)
        keep = ~bad
        encoded = pc.dictionary_encode(stripped.filter(pa.array(keep)))
        local = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        mapping = np.empty(len(encoded.dictionary), dtype=np.int32)
        for j, key in enumerate(encoded.dictionary.to_pylist()):
            if key is None:
                mapping[j] = -1
                continue
            code = self.codes.get(key)
            if code is None:
                code = self.codes[key] = len(self.codes)
            mapping[j] = code
        codes = mapping[np.where(local >= 0, local, 0)]
        self.parts["terminal_id"].append(codes)
        self.parts["time"].append(t[keep])
        self.parts["latitude_deg"].append(lat[keep])
        self.parts["longitude_deg"].append(lon[keep])
        self.parts["altitude_m"].append(optional["altitude_m"][keep])
        self.parts["speed_kmh"].append(optional["speed_kmh"][keep])
        self.parts["line"].append(np.asarray(lines, dtype=np.int64)[keep])

    def finish(self) -> Telemetry:
        def cat(name: str, dtype: Any) -> np.ndarray:
            parts = self.parts.pop(name)  # freed column by column: peak = parts + one column
            out = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
            parts.clear()
            return out

        ids = np.empty(len(self.codes), dtype=object)
        for key, code in self.codes.items():
            ids[code] = key
        pa.default_memory_pool().release_unused()
        return Telemetry(
            terminal=cat("terminal_id", np.int32),
            terminal_ids=ids,
            time_ns=cat("time", np.int64),
            latitude_deg=cat("latitude_deg", np.float64),
            longitude_deg=cat("longitude_deg", np.float64),
            altitude_m=cat("altitude_m", np.float64),
            speed_kmh=cat("speed_kmh", np.float64),
            line=cat("line", np.int64),
            source=self.source,
            rejected=tuple(self.rejected),
            rejected_count=self.rejected_count,
        )


def _text(table: pa.Table, name: str, i: int) -> str:
    value = table.column(name)[i].as_py()
    return "" if value is None else str(value)


def _chunk(col: Any) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _given(col: Any) -> np.ndarray:
    """Which entries of an optional column hold a value (not null, not blank text)."""
    arr = _chunk(col)
    present = np.asarray(pc.is_valid(arr), dtype=bool)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        blank = np.asarray(pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), True))
        present &= ~blank
    return present


def _floats(col: Any, *, blank_is_nan: bool = False) -> np.ndarray:
    """A column as float64; NaN where it is missing or not a number."""
    arr = _chunk(col)
    if pa.types.is_null(arr.type):
        return np.full(len(arr), np.nan)
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type):
        return np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), np.nan), dtype=np.float64)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string())
    ok = pc.fill_null(pc.match_substring_regex(arr, _FLOAT_RE), False)
    clean = pc.if_else(ok, pc.utf8_trim_whitespace(arr), pa.scalar(None, pa.string()))
    return np.asarray(pc.fill_null(pc.cast(clean, pa.float64()), np.nan), dtype=np.float64)


def _times(col: Any) -> np.ndarray:
    """A column as int64 ns since 1970 (UTC); NaT (int64 min) where it is not a time."""
    arr = _chunk(col)
    n = len(arr)
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:
            arr = pc.cast(arr, pa.timestamp("ns", tz="UTC"))
        arr = pc.cast(arr, pa.timestamp("ns"), safe=False)
        return np.asarray(pc.fill_null(pc.cast(arr, pa.int64()), _NAT), dtype=np.int64)
    if pa.types.is_date(arr.type):
        arr = pc.cast(pc.cast(arr, pa.timestamp("ns")), pa.int64())
        return np.asarray(pc.fill_null(arr, _NAT), dtype=np.int64)
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return np.full(n, _NAT, dtype=np.int64)
    arr = pc.utf8_trim_whitespace(arr)
    out = np.full(n, _NAT, dtype=np.int64)
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _TIME_RE), False), dtype=bool)
    zoned = np.asarray(pc.fill_null(pc.match_substring_regex(arr, _ZONE_RE), False), dtype=bool)
    for mask, target in (
        (ok & zoned, pa.timestamp("ns", tz="UTC")),
        (ok & ~zoned, pa.timestamp("ns")),
    ):
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        part = arr.take(pa.array(idx))
        try:
            cast = pc.cast(pc.cast(part, target), pa.timestamp("ns"), safe=False)
            out[idx] = np.asarray(pc.cast(cast, pa.int64()), dtype=np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out[idx] = [_one_time(v) for v in part.to_pylist()]
    return out


def _one_time(text: str) -> int:
    from skyfence.timeutil import parse_time

    try:
        value = parse_time(text)
    except (InputError, ValueError, OverflowError):
        return _NAT
    return _NAT if np.isnat(value) else int(value.astype(np.int64))


# --------------------------------------------------------------------------- writing
def write_telemetry(
    telemetry: Telemetry,
    path: str | Path,
    *,
    extra: Mapping[str, np.ndarray] | None = None,
    fmt: str | None = None,
) -> Path:
    """Write reports (plus ``extra`` columns, e.g. a ground-truth ``label``) atomically.

    The format follows the suffix (``.parquet``, ``.csv``, ``.jsonl``). Times are written as
    UTC timestamps (Parquet) or ISO 8601 text with ``Z``.
    """
    path = Path(path)
    kind = telemetry_format(path, fmt)
    cols: dict[str, Any] = {
        "terminal_id": pa.DictionaryArray.from_arrays(
            pa.array(telemetry.terminal, pa.int32()),
            pa.array(telemetry.terminal_ids.tolist(), pa.string()),
        ),
        "time": pa.array(telemetry.time_ns, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "latitude_deg": pa.array(telemetry.latitude_deg),
        "longitude_deg": pa.array(telemetry.longitude_deg),
        "altitude_m": pa.array(telemetry.altitude_m, from_pandas=True),
        "speed_kmh": pa.array(telemetry.speed_kmh, from_pandas=True),
    }
    for name, values in (extra or {}).items():
        if name in cols:
            raise InputError(f"extra column {name!r} clashes with a telemetry column")
        values = np.asarray(values)
        cols[name] = pa.array(values.tolist() if values.dtype == object else values)
    table = pa.table(cols)
    with atomic_path(path) as tmp:
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
        else:
            table = table.set_column(0, "terminal_id", pc.cast(table.column(0), pa.string()))
            times = table.column("time")
            if not np.any(telemetry.time_ns % 1_000_000_000):
                times = pc.cast(times, pa.timestamp("s", tz="UTC"))
            iso = pc.strftime(times, format="%Y-%m-%dT%H:%M:%SZ")
            table = table.set_column(1, "time", iso)
            if kind == "csv":
                import pyarrow.csv as pcsv

                pcsv.write_csv(table, tmp)
            else:
                with open(tmp, "w", encoding="utf-8") as fh:
                    for batch in table.to_batches(1 << 16):
                        for row in batch.to_pylist():
                            fh.write(
                                json.dumps(
                                    {
                                        k: v
                                        for k, v in row.items()
                                        if v is not None and not (isinstance(v, float) and v != v)
                                    }
                                )
                            )
                            fh.write("\n")
    return path
