"""Terminal telemetry: the location reports terminals send, read in chunks and validated.

A telemetry file has one row per report with the columns

``terminal_id, time, latitude_deg, longitude_deg[, altitude_m, speed_kmh]``

as CSV (with a header), JSON Lines (one object per line) or Parquet. ``time`` is ISO 8601
text (``2026-02-01T12:00:00Z``; no offset means UTC) or, in Parquet, a timestamp column.
Any other column (a scenario's ground-truth ``label`` for one) is never read: the detectors
get only these columns, so nothing they do can depend on it.

Files are read block by block (CSV and JSON Lines in blocks of whole lines parsed by
pyarrow, Parquet by row groups), so the text of a file never sits in memory whole; what is
kept is a compact columnar :class:`Telemetry` of 52 bytes per row (10 million rows: 520 MB).
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

from skyfence.detect._columns import (
    COLUMNS,
    REQUIRED_COLUMNS,
    Builder,
    Rejected,
    check_header,
)
from skyfence.errors import InputError, ParseError
from skyfence.files import atomic_path

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "FORMATS",
    "Rejected",
    "Telemetry",
    "read_telemetry",
    "write_telemetry",
    "read_column",
    "check_column",
    "telemetry_format",
]

#: File formats by suffix.
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BLOCK_BYTES = 16 << 20


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

        ``time`` is ``datetime64`` or ISO 8601 text.

        Examples
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
        builder = Builder(source, "raise")
        builder.add(pa.table(columns), np.arange(1, n + 1, dtype=np.int64))
        return Telemetry(**builder.finish())

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
    builder = Builder(str(path), on_invalid)
    if kind == "parquet":
        _read_parquet(path, builder, progress)
    else:
        _read_text(path, kind, builder, block_bytes, progress)
    return Telemetry(**builder.finish())


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


def check_column(path: str | Path, name: str, *, fmt: str | None = None) -> None:
    """Raise :class:`InputError` unless the file has a column ``name``: the CSV header, the
    Parquet schema, or the keys of the first JSON Lines record (no other row is read), so a
    mistyped column fails before a long run. A file too broken to tell is left to the
    telemetry reader, which says what is wrong with it."""
    path = Path(path)
    kind = telemetry_format(path, fmt)
    names: list[str] = []
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            names = list(pq.read_schema(path).names)
        else:
            with open(path, encoding="utf-8", newline="") as fh:
                if kind == "csv":
                    names = next(csv.reader(fh), [])
                else:
                    record = json.loads(next((t for t in fh if t.strip()), "{}"))
                    names = list(record) if isinstance(record, dict) else []
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError, ValueError):
        return
    if name not in names:
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise InputError(
            f"{path} has no column {name!r} (its columns: {shown or 'none'}); "
            "name one of them with --truth-column, or leave it out"
        )


def _read_parquet(
    path: Path, builder: Builder, progress: Callable[[int, int], None] | None
) -> None:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ParseError(f"not a readable Parquet file ({exc})", source=str(path)) from None
    names = pf.schema_arrow.names
    check_header(names, str(path))
    wanted = [c for c in COLUMNS if c in names]
    total = pf.metadata.num_rows
    done = 0
    for batch in pf.iter_batches(batch_size=1 << 20, columns=wanted):
        rows = np.arange(done + 1, done + batch.num_rows + 1, dtype=np.int64)
        builder.add(pa.Table.from_batches([batch]), rows)
        done += batch.num_rows
        if progress is not None:
            progress(done, total)


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
    builder: Builder,
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
            check_header(names, str(path))
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


def _parse_csv_block(data: bytes, lines: np.ndarray, builder: Builder) -> None:
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


def _parse_json_block(data: bytes, lines: np.ndarray, builder: Builder) -> None:
    import pyarrow.json as pj

    table = None
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        table = None
    if table is not None and table.num_rows == lines.shape[0]:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing and table.num_rows:
            check_header(table.column_names, builder.source)
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
    with atomic_path(path, make_parents=True) as tmp:
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
