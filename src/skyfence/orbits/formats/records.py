"""What every reader produces: columns of valid records, and a report of what it left out.

Readers validate one record at a time. A bad record raises :class:`InvalidRecord` inside the
reader; the :class:`Collector` turns it into a :class:`~skyfence.errors.ParseError`
(``on_invalid="raise"``) or a :class:`SkippedRecord` (``on_invalid="skip"``). Valid records
go into :class:`Columns`, one Python list per column, which :func:`finish` turns into numpy
arrays (after resolving duplicate NORAD ids) together with the :class:`ParseReport`.

Nothing here knows about :class:`~skyfence.orbits.elements.ElementSet`: the columns are
named like its attributes and ``ElementSet`` is built from them by its own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from skyfence.errors import ParseError

__all__ = [
    "SkippedRecord",
    "ParseReport",
    "ParsedElements",
    "ElementColumns",
    "InvalidRecord",
    "SKIP_HINT",
    "Columns",
    "Collector",
    "finish",
]


@dataclass(frozen=True)
class SkippedRecord:
    """One record left out by a reader.

    Attributes
    ----------
    line : int or None
        1-based line of the record in the source (None for JSON/XML records).
    record : int
        1-based position of the record among the records of the source.
    reason : str
        Why it was left out, with how to fix it.
    norad_id : int or None
        Its catalogue number when that much could be read.
    """

    line: int | None
    record: int
    reason: str
    norad_id: int | None = None


@dataclass(frozen=True)
class ParseReport:
    """What a reader did: the format, how many records it kept, and what it left out.

    Attributes
    ----------
    source : str
        File name (or ``<text>``).
    format : str
        One of :data:`skyfence.orbits.formats.FORMATS`.
    records_read : int
        Records found in the source, valid or not.
    skipped : tuple of SkippedRecord
        Invalid records left out (only with ``on_invalid="skip"``).
    duplicates : tuple of SkippedRecord
        Valid records dropped because the same NORAD id appears with a newer epoch.
    """

    source: str
    format: str
    records_read: int
    skipped: tuple[SkippedRecord, ...] = ()
    duplicates: tuple[SkippedRecord, ...] = field(default=())

    @property
    def duplicates_dropped(self) -> int:
        """How many older duplicates were dropped."""
        return len(self.duplicates)

    @property
    def records_kept(self) -> int:
        return self.records_read - len(self.skipped) - len(self.duplicates)

    def summary(self) -> str:
        """One line for logs and CLIs."""
        return (
            f"{self.source}: {self.records_kept} of {self.records_read} {self.format} records "
            f"kept, {len(self.skipped)} invalid skipped, {self.duplicates_dropped} older "
            "duplicates dropped"
        )


@dataclass(frozen=True)
class ParsedElements:
    """A reader's result: one array per ``ElementSet`` column, and the report.

    ``columns`` has the keys ``names, norad_ids, international_designators, epochs,
    inclination_deg, raan_deg, eccentricity, arg_perigee_deg, mean_anomaly_deg,
    mean_motion_rev_per_day, bstar, mean_motion_dot, mean_motion_ddot, classification,
    element_set_no, rev_at_epoch``.
    """

    columns: dict[str, np.ndarray]
    report: ParseReport


class ElementColumns(Protocol):
    """What the writers read: the columns of an :class:`~skyfence.orbits.elements.ElementSet`."""

    names: np.ndarray
    norad_ids: np.ndarray
    international_designators: np.ndarray
    epochs: np.ndarray
    inclination_deg: np.ndarray
    raan_deg: np.ndarray
    eccentricity: np.ndarray
    arg_perigee_deg: np.ndarray
    mean_anomaly_deg: np.ndarray
    mean_motion_rev_per_day: np.ndarray
    bstar: np.ndarray
    mean_motion_dot: np.ndarray
    mean_motion_ddot: np.ndarray
    classification: np.ndarray
    element_set_no: np.ndarray
    rev_at_epoch: np.ndarray

    def __len__(self) -> int: ...


class InvalidRecord(Exception):
    """One record is bad (the :class:`Collector` makes it a ParseError or a SkippedRecord)."""

    def __init__(self, reason: str, line: int | None, norad_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.norad_id = norad_id


@dataclass
class Columns:
    """Valid records so far, one list per column (``add`` takes a decoded record dict)."""

    names: list[str] = field(default_factory=list)
    norad_ids: list[int] = field(default_factory=list)
    intl: list[str] = field(default_factory=list)
    epoch_ns: list[int] = field(default_factory=list)
    inc: list[float] = field(default_factory=list)
    raan: list[float] = field(default_factory=list)
    ecc: list[float] = field(default_factory=list)
    argp: list[float] = field(default_factory=list)
    ma: list[float] = field(default_factory=list)
    n: list[float] = field(default_factory=list)
    bstar: list[float] = field(default_factory=list)
    ndot: list[float] = field(default_factory=list)
    nddot: list[float] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    elnum: list[int] = field(default_factory=list)
    rev: list[int] = field(default_factory=list)
    lines: list[int | None] = field(default_factory=list)
    records: list[int] = field(default_factory=list)

    def add(self, rec: dict[str, Any], line: int | None, record: int) -> None:
        self.names.append(rec["name"])
        self.norad_ids.append(rec["norad"])
        self.intl.append(rec["intl"])
        self.epoch_ns.append(rec["epoch_ns"])
        self.inc.append(rec["inc"])
        self.raan.append(rec["raan"])
        self.ecc.append(rec["ecc"])
        self.argp.append(rec["argp"])
        self.ma.append(rec["ma"])
        self.n.append(rec["n"])
        self.bstar.append(rec["bstar"])
        self.ndot.append(rec["ndot"])
        self.nddot.append(rec["nddot"])
        self.cls.append(rec["cls"])
        self.elnum.append(rec["elnum"])
        self.rev.append(rec["rev"])
        self.lines.append(line)
        self.records.append(record)


SKIP_HINT = "to leave invalid records out, pass on_invalid='skip'"
"""The :attr:`~skyfence.errors.ParseError.hint` of an error about one record."""

MAX_SKIPPED = 10_000
"""With ``on_invalid="skip"``, a source stops being read once more than this many records
were invalid and more than nine in ten of all: it is not an element-set file (and a
report of every garbage line would grow without bound)."""


class Collector:
    """Gathers valid records and either raises on the first bad one or notes it."""

    def __init__(self, source: str, on_invalid: str):
        self.source = source
        self.on_invalid = on_invalid
        self.cols = Columns()
        self.skipped: list[SkippedRecord] = []
        self.count = 0

    def bad(self, exc: InvalidRecord, record: int) -> None:
        if self.on_invalid == "raise":
            raise ParseError(
                exc.reason, source=self.source, line=exc.line, hint=SKIP_HINT
            ) from None
        self.skipped.append(SkippedRecord(exc.line, record, exc.reason, exc.norad_id))
        skipped = len(self.skipped)
        if skipped > MAX_SKIPPED and skipped > 9 * len(self.cols.norad_ids):
            first = self.skipped[0]
            where = f"line {first.line}: " if first.line is not None else ""
            raise ParseError(
                f"{skipped:,} invalid records and only {len(self.cols.norad_ids):,} valid "
                f"ones so far; this is not an element-set file of this format (the first "
                f"invalid record, {where}{first.reason})",
                source=self.source,
            )


def finish(col: Collector, fmt: str, duplicates: str) -> ParsedElements:
    """Columns as arrays (older duplicates dropped when ``duplicates == "newest"``) + report."""
    c = col.cols
    keep = np.ones(len(c.norad_ids), dtype=bool)
    dropped: list[SkippedRecord] = []
    if duplicates == "newest" and c.norad_ids:
        ids = np.asarray(c.norad_ids, dtype=np.int64)
        ep = np.asarray(c.epoch_ns, dtype=np.int64)
        pos = np.arange(len(ids))
        order = np.lexsort((pos, ep, ids))  # by id, then epoch, then file order
        last_of_group = np.ones(len(ids), dtype=bool)
        last_of_group[:-1] = ids[order][1:] != ids[order][:-1]
        keep[order[~last_of_group]] = False
        winner: dict[int, int] = {int(ids[k]): int(k) for k in order[last_of_group]}
        for k in np.flatnonzero(~keep):
            w = winner[int(ids[k])]
            where = f"line {c.lines[w]}" if c.lines[w] is not None else f"record {c.records[w]}"
            dropped.append(
                SkippedRecord(
                    c.lines[k],
                    c.records[k],
                    f"NORAD {int(ids[k])} appears again at {where} with a newer or equal "
                    "epoch; the newest element set is kept",
                    int(ids[k]),
                )
            )
    idx = np.flatnonzero(keep)

    def pick(values: list[Any], dtype: Any) -> np.ndarray:
        arr = np.asarray(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)
        return arr[idx]

    report = ParseReport(
        source=col.source,
        format=fmt,
        records_read=col.count,
        skipped=tuple(col.skipped),
        duplicates=tuple(dropped),
    )
    columns = {
        "names": pick(c.names, object),
        "norad_ids": pick(c.norad_ids, np.int64),
        "epochs": pick(c.epoch_ns, np.int64).astype("datetime64[ns]"),
        "inclination_deg": pick(c.inc, np.float64),
        "raan_deg": pick(c.raan, np.float64),
        "eccentricity": pick(c.ecc, np.float64),
        "arg_perigee_deg": pick(c.argp, np.float64),
        "mean_anomaly_deg": pick(c.ma, np.float64),
        "mean_motion_rev_per_day": pick(c.n, np.float64),
        "bstar": pick(c.bstar, np.float64),
        "mean_motion_dot": pick(c.ndot, np.float64),
        "mean_motion_ddot": pick(c.nddot, np.float64),
        "international_designators": pick(c.intl, object),
        "classification": pick(c.cls, object),
        "element_set_no": pick(c.elnum, np.int64),
        "rev_at_epoch": pick(c.rev, np.int64),
    }
    return ParsedElements(columns, report)
