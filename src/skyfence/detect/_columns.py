"""Validation of parsed telemetry blocks into numpy columns (used by
:mod:`skyfence.detect.telemetry`): every bad value is found with vectorised checks and
named with its line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skyfence.errors import InputError, ParseError

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "MAX_LISTED", "Rejected", "Builder", "check_header"]

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
#: How many bad rows :attr:`Telemetry.rejected` lists (all are counted).
MAX_LISTED = 1000

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


def check_header(names: Sequence[str], source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ParseError(
            f"missing column(s) {', '.join(missing)}: a telemetry file needs "
            f"{', '.join(REQUIRED_COLUMNS)} (optional: altitude_m, speed_kmh); "
            f"it has {', '.join(map(str, names)) or 'none'}",
            source=source,
        )


# --------------------------------------------------------------------------- validation
class Builder:
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
                check_header(table.column_names, self.source)
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

    def finish(self) -> dict[str, Any]:
        """The columns of the good rows (``Telemetry`` fields), and the rejected rows."""

        def cat(name: str, dtype: Any) -> np.ndarray:
            parts = self.parts.pop(name)  # freed column by column: peak = parts + one column
            out = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
            parts.clear()
            return out

        ids = np.empty(len(self.codes), dtype=object)
        for key, code in self.codes.items():
            ids[code] = key
        pa.default_memory_pool().release_unused()
        return dict(
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
