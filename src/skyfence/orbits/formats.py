"""Read and write element sets: TLE, 3LE, CCSDS OMM as JSON, CSV and XML.

Readers detect the format from the content, validate every record (TLE checksums, line
numbers, column layout, catalogue numbers, field syntax, OMM keys) and either raise a
:class:`~skyfence.errors.ParseError` naming the source, line and reason
(``on_invalid="raise"``) or leave the bad record out and say so in a :class:`ParseReport`
(``on_invalid="skip"``). Duplicate NORAD ids are resolved to the newest epoch and counted in
the report. Writers produce the standard layouts (TLE columns with checksums and Alpha-5 ids;
OMM with CelesTrak's keys) and write files atomically.

Formats
-------
``tle``
    Two-line element sets (line 1 and line 2, 69 columns each).
``3le``
    A name line before each TLE (``STARLINK-1008`` or ``0 STARLINK-1008``).
``omm-json``
    CCSDS OMM keys as CelesTrak serves them in JSON: a list of objects, or one object.
``omm-csv``
    The same keys as a CSV header, one row per satellite.
``omm-xml``
    CCSDS NDM/OMM XML (``<ndm><omm>...<segment><metadata/><data/></segment></omm></ndm>``).

Examples
--------
>>> text = '''STARLINK-1008
... 1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998
... 2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616'''
>>> elements = parse_elements(text)
>>> elements.names[0], int(elements.norad_ids[0]), detect_format(text)
('STARLINK-1008', 44714, '3le')
>>> print(format_elements(elements, "tle"), end="")
1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998
2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from xml.sax.saxutils import escape as xml_escape

import numpy as np

from skyfence.errors import InputError, ParseError

if TYPE_CHECKING:
    from skyfence.orbits.elements import ElementSet

__all__ = [
    "FORMATS",
    "OMM_KEYS",
    "ParseReport",
    "SkippedRecord",
    "detect_format",
    "parse_elements",
    "read_elements",
    "format_elements",
    "write_elements",
    "tle_checksum",
    "to_alpha5",
    "from_alpha5",
]

#: Formats understood by the readers and writers.
FORMATS = ("tle", "3le", "omm-json", "omm-csv", "omm-xml")
_ALIASES = {
    "2le": "tle",
    "txt": "tle",
    "json": "omm-json",
    "csv": "omm-csv",
    "xml": "omm-xml",
    "omm": "omm-json",
}
_SUFFIXES = {
    ".tle": "tle",
    ".txt": "tle",
    ".2le": "tle",
    ".3le": "3le",
    ".json": "omm-json",
    ".csv": "omm-csv",
    ".xml": "omm-xml",
}

#: OMM keys in the order CelesTrak serves them.
OMM_KEYS = (
    "OBJECT_NAME",
    "OBJECT_ID",
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "EPHEMERIS_TYPE",
    "CLASSIFICATION_TYPE",
    "NORAD_CAT_ID",
    "ELEMENT_SET_NO",
    "REV_AT_EPOCH",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)
_OMM_REQUIRED = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
    "NORAD_CAT_ID",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)
_XML_META = (
    "OBJECT_NAME",
    "OBJECT_ID",
    "CENTER_NAME",
    "REF_FRAME",
    "TIME_SYSTEM",
    "MEAN_ELEMENT_THEORY",
)
_XML_MEAN = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
)
_XML_TLE = (
    "EPHEMERIS_TYPE",
    "CLASSIFICATION_TYPE",
    "NORAD_CAT_ID",
    "ELEMENT_SET_NO",
    "REV_AT_EPOCH",
    "BSTAR",
    "MEAN_MOTION_DOT",
    "MEAN_MOTION_DDOT",
)

_SGP4XP = (
    "EPHEMERIS_TYPE 4 marks SGP4-XP elements, which are fitted for a different propagator "
    "and give wrong positions with SGP4; ask the provider for the SGP4 general-perturbations "
    "set (EPHEMERIS_TYPE 0)"
)

_NS_PER_DAY = 86_400 * 10**9
_DIGITS = "0123456789"
_ALPHA5_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used


# ============================================================ report


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
        One of :data:`FORMATS`.
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


class _Invalid(Exception):
    """Internal: one record is bad (becomes a ParseError or a SkippedRecord)."""

    def __init__(self, reason: str, line: int | None, norad_id: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.norad_id = norad_id


@dataclass
class _Columns:
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


class _Collector:
    """Gathers valid records and either raises on the first bad one or notes it."""

    def __init__(self, source: str, on_invalid: str):
        self.source = source
        self.on_invalid = on_invalid
        self.cols = _Columns()
        self.skipped: list[SkippedRecord] = []
        self.count = 0

    def bad(self, exc: _Invalid, record: int) -> None:
        if self.on_invalid == "raise":
            raise ParseError(exc.reason, source=self.source, line=exc.line) from None
        self.skipped.append(SkippedRecord(exc.line, record, exc.reason, exc.norad_id))


# ============================================================ helpers


def tle_checksum(line: str) -> int:
    """The TLE checksum of ``line[:68]``: the sum of its digits, '-' counting 1, modulo 10.

    Examples
    --------
    >>> tle_checksum("1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  292")
    7
    """
    head = line[:68]
    total = head.count("-")
    for digit in range(1, 10):
        total += digit * head.count(_DIGITS[digit])
    return total % 10


def to_alpha5(norad_id: int) -> str:
    """Five-character catalogue number: digits below 100000, Alpha-5 (``A0001``) up to 339999.

    Examples
    --------
    >>> to_alpha5(25544), to_alpha5(100001), to_alpha5(339999)
    ('25544', 'A0001', 'Z9999')
    """
    n = int(norad_id)
    if n < 0 or n > 339_999:
        raise InputError(
            f"NORAD id {n} cannot be written in a TLE: the 5-column field holds 0..99999, or "
            "100000..339999 as Alpha-5 (A0000..Z9999); write OMM (.json/.csv/.xml) instead"
        )
    if n < 100_000:
        return f"{n:05d}"
    letter, rest = divmod(n, 10_000)
    return f"{_ALPHA5_LETTERS[letter - 10]}{rest:04d}"


def from_alpha5(text: str) -> int:
    """Decode a TLE catalogue-number field (``'25544'``, ``'  544'``, ``'A0001'``).

    Raises :class:`~skyfence.errors.InputError` with the reason when the field is not valid.

    Examples
    --------
    >>> from_alpha5("A0001"), from_alpha5("Z9999"), from_alpha5("00005")
    (100001, 339999, 5)
    """
    s = text.strip()
    if s.isdigit() and s.isascii():
        return int(s)
    if len(s) == 5 and s[1:].isdigit() and s[1:].isascii() and s[0].isalpha():
        letter = s[0]
        if letter in "IO":
            raise InputError(
                f"catalogue number {text!r}: Alpha-5 does not use the letters I and O "
                "(they look like 1 and 0); check the id"
            )
        if letter not in _ALPHA5_LETTERS:
            raise InputError(
                f"catalogue number {text!r}: an Alpha-5 id starts with an upper-case letter "
                "A-Z (without I and O) followed by 4 digits"
            )
        return (_ALPHA5_LETTERS.index(letter) + 10) * 10_000 + int(s[1:])
    raise InputError(
        f"catalogue number {text!r} is neither 5 digits nor Alpha-5 (a letter A-Z without I "
        "and O, then 4 digits, e.g. A0001 = 100001)"
    )


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's integer algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


_YEAR_START_DAYS: dict[int, int] = {}


def _year_start_days(year: int) -> int:
    days = _YEAR_START_DAYS.get(year)
    if days is None:
        days = _days_from_civil(year, 1, 1)
        _YEAR_START_DAYS[year] = days
    return days


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _alpha5_field(text: str) -> int:
    try:
        return from_alpha5(text)
    except InputError as exc:
        raise _Invalid(f"{exc} (columns 3-7)", None) from None


def _norad_hint(text: str) -> int | None:
    try:
        return from_alpha5(text)
    except InputError:
        return None


# ============================================================ TLE


_LINE1_BLANKS = (1, 8, 17, 32, 43, 52, 61, 63)  # 0-based columns that must be blank
_LINE2_BLANKS = (1, 7, 16, 25, 33, 42, 51)
_EXP_RE = re.compile(r"^([ +-])(\d{5})([ +-])(\d)$")
_EXP_RE_LOOSE = re.compile(r"^\s*([+-]?)(\d{1,5})([+-]?)(\d)$")
_TLE_EPOCH_RE = re.compile(r"(\d\d)([ \d]{2}\d)\.(\d{1,8}) *")
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def _field_error(name: str, col: str, value: str, expected: str) -> str:
    return f"{name} (columns {col}) is {value!r}; expected {expected}"


def _parse_float(value: str, name: str, col: str, expected: str) -> float:
    s = value.strip()
    if not _NUMBER_RE.match(s):
        raise _Invalid(_field_error(name, col, value, expected), None)
    x = float(s)
    if not math.isfinite(x):
        raise _Invalid(_field_error(name, col, value, expected), None)
    return x


def _parse_exp_field(value: str, name: str, col: str) -> float:
    """TLE 'assumed decimal' field: ' 12345-4' = +0.12345e-4."""
    m = _EXP_RE.match(value) or _EXP_RE_LOOSE.match(value)
    if m is None:
        raise _Invalid(
            _field_error(
                name, col, value, "an assumed-decimal number like ' 12345-4' (= 0.12345e-4)"
            ),
            None,
        )
    sign, digits, esign, exp = m.groups()
    sign = "-" if sign == "-" else ""
    esign = "-" if esign == "-" else ""
    return float(f"{sign}0.{digits.zfill(5)}e{esign}{exp}")


def _parse_int(value: str, name: str, col: str, *, blank_ok: bool = True) -> int:
    s = value.strip()
    if not s and blank_ok:
        return 0
    if not (s.isdigit() and s.isascii()):
        raise _Invalid(_field_error(name, col, value, "digits"), None)
    return int(s)


def _tle_epoch_ns(field_: str) -> int:
    """Epoch 'YYDDD.DDDDDDDD' to nanoseconds since 1970, exactly (rounded to the ns)."""
    m = _TLE_EPOCH_RE.fullmatch(field_)
    if m is None:
        raise _Invalid(
            _field_error(
                "epoch",
                "19-32",
                field_,
                "YYDDD.DDDDDDDD (two-digit year, day of year with fraction, e.g. 26053.95338319)",
            ),
            None,
        )
    yy = int(m.group(1))
    doy = int(m.group(2).replace(" ", "0"))
    frac = m.group(3)
    year = 1900 + yy if yy >= 57 else 2000 + yy
    ndays = 366 if _is_leap(year) else 365
    if not 1 <= doy <= ndays:
        raise _Invalid(
            f"epoch (columns 19-32) {field_.strip()!r} has day of year {doy}; {year} has days "
            f"1..{ndays}",
            None,
        )
    frac_ns = 0
    if frac:
        scale = 10 ** len(frac)
        frac_ns = (int(frac) * _NS_PER_DAY * 2 + scale) // (2 * scale)  # round half up
    return (_year_start_days(year) + doy - 1) * _NS_PER_DAY + frac_ns


def _check_tle_line(text: str, number: str, lineno: int, verify_checksum: bool = True) -> str:
    """Length, line number, layout and checksum of one TLE line; returns its 69 columns."""
    line = text.rstrip()
    if len(line) < 69:
        raise _Invalid(
            f"TLE line {number} is {len(line)} characters long; it must have 69 (columns 1-68 "
            "and the checksum in column 69) - the line was cut short or wrapped",
            lineno,
        )
    if len(line) > 69 and not line[69].isspace():
        raise _Invalid(
            f"TLE line {number} is {len(line)} characters long; it must have 69 (anything "
            "after column 69 must be separated by a blank) - fields are shifted",
            lineno,
        )
    line = line[:69]
    if line[0] != number:
        raise _Invalid(
            f"expected TLE line {number} here but the line starts with {line[0]!r}; each TLE "
            "is a line 1 followed by its line 2",
            lineno,
        )
    if not line.isascii():
        raise _Invalid(f"TLE line {number} contains non-ASCII characters", lineno)
    for col in _LINE1_BLANKS if number == "1" else _LINE2_BLANKS:
        if line[col] != " ":
            raise _Invalid(
                f"TLE line {number} column {col + 1} must be blank but holds {line[col]!r}; "
                "the fields are not in the standard TLE column layout",
                lineno,
            )
    check = line[68]
    if not check.isdigit():
        raise _Invalid(
            f"TLE line {number} checksum (column 69) is {check!r}; expected a digit", lineno
        )
    expected = tle_checksum(line)
    if verify_checksum and int(check) != expected:
        raise _Invalid(
            f"checksum is {check} but the line's digits add up to {expected} (mod 10, '-' "
            "counts 1); the line is corrupted - re-download the file or pass "
            "on_invalid='skip'",
            lineno,
        )
    return line


def _parse_tle_pair(l1: str, l2: str, n1: int, n2: int, verify_checksum: bool) -> dict[str, Any]:
    """Validate and decode one TLE; raises _Invalid with the line number."""
    norad = _norad_hint(l1[2:7])
    try:
        l1 = _check_tle_line(l1, "1", n1, verify_checksum)
        l2 = _check_tle_line(l2, "2", n2, verify_checksum)
    except _Invalid as exc:
        exc.norad_id = norad
        raise

    lineno = n1
    try:
        sat1 = _alpha5_field(l1[2:7])
        lineno = n2
        sat2 = _alpha5_field(l2[2:7])
        if sat1 != sat2:
            raise _Invalid(
                f"catalogue number on line 2 ({l2[2:7].strip()}) differs from line 1 "
                f"({l1[2:7].strip()}); the two lines belong to different satellites",
                n2,
            )
        lineno = n1
        cls = l1[7]
        if cls not in "UCS ":
            raise _Invalid(f"classification (column 8) is {cls!r}; expected U, C or S", n1)
        ephtype = l1[62]
        if ephtype == "4":
            raise _Invalid(_SGP4XP, n1)
        if ephtype not in " 0123":
            raise _Invalid(f"ephemeris type (column 63) is {ephtype!r}; expected 0 (SGP4)", n1)
        epoch_ns = _tle_epoch_ns(l1[18:32])
        ndot = _parse_float(
            l1[33:43], "mean motion derivative", "34-43", "a number like ' .00001514'"
        )
        nddot = _parse_exp_field(l1[44:52], "second derivative of mean motion", "45-52")
        bstar = _parse_exp_field(l1[53:61], "BSTAR drag term", "54-61")
        elnum = _parse_int(l1[64:68], "element set number", "65-68")

        lineno = n2
        inc = _parse_float(l2[8:16], "inclination", "9-16", "degrees like ' 53.1565'")
        raan = _parse_float(
            l2[17:25], "right ascension of the node", "18-25", "degrees like '247.2957'"
        )
        ecc_field = l2[26:33]
        if not (ecc_field.isdigit() and ecc_field.isascii()):
            raise _Invalid(
                f"eccentricity (columns 27-33) is {ecc_field!r}; expected 7 digits with an "
                "implied leading decimal point (0001251 = 0.0001251)",
                n2,
            )
        ecc = float("0." + ecc_field)
        argp = _parse_float(l2[34:42], "argument of perigee", "35-42", "degrees like ' 94.4223'")
        ma = _parse_float(l2[43:51], "mean anomaly", "44-51", "degrees like '265.6921'")
        n = _parse_float(
            l2[52:63], "mean motion", "53-63", "revolutions per day like '15.31035506'"
        )
        rev = _parse_int(l2[63:68], "revolution number", "64-68")
    except _Invalid as exc:
        exc.line = lineno
        exc.norad_id = norad
        raise
    if not 0.0 <= inc <= 180.0:
        raise _Invalid(f"inclination {inc} is outside 0..180 degrees", n2, sat1)
    for name, value in (
        ("right ascension of the node", raan),
        ("argument of perigee", argp),
        ("mean anomaly", ma),
    ):
        if not 0.0 <= value <= 360.0:
            raise _Invalid(f"{name} {value} is outside 0..360 degrees", n2, sat1)
    if n <= 0.0:
        raise _Invalid(
            f"mean motion (columns 53-63) is {n}; it must be > 0 revolutions per day", n2, sat1
        )
    return {
        "norad": sat1,
        "intl": l1[9:17].strip(),
        "epoch_ns": epoch_ns,
        "inc": inc,
        "raan": raan,
        "ecc": ecc,
        "argp": argp,
        "ma": ma,
        "n": n,
        "bstar": bstar,
        "ndot": ndot,
        "nddot": nddot,
        "cls": cls if cls != " " else "U",
        "elnum": elnum,
        "rev": rev,
    }


# A line starting "1 " or "2 " is taken as a TLE line only when it is longer than a name
# line can be (24 characters), so that a satellite called "1" is still a name.
_NAME_MAX = 24


def _is_l1(line: str) -> bool:
    return line[:2] == "1 " and len(line.rstrip()) > _NAME_MAX


def _is_l2(line: str) -> bool:
    return line[:2] == "2 " and len(line.rstrip()) > _NAME_MAX


def _parse_tle_text(
    text: str, col: _Collector, verify_checksum: bool, fast_path: bool = True
) -> None:
    """Pair the lines into records, then decode them (vectorised, see :func:`_fast_tle`)."""
    lines = text.splitlines()
    # records in file order: (index into pairs, None, record) or (None, error, record)
    events: list[tuple[int | None, _Invalid | None, int]] = []
    pairs: list[tuple[str, str, int, int, str | None, int, int]] = []
    name: str | None = None
    name_line = 0
    i = 0
    nlines = len(lines)
    while i < nlines:
        raw = lines[i]
        lineno = i + 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        if _is_l1(raw):
            j = i + 1
            while j < nlines and not lines[j].strip():
                j += 1
            col.count += 1
            record = col.count
            if j >= nlines or not _is_l2(lines[j]):
                got = (
                    "the text ends"
                    if j >= nlines
                    else f"the next line starts {lines[j].strip()[:12]!r}"
                )
                events.append(
                    (
                        None,
                        _Invalid(
                            f"TLE line 1 is not followed by its line 2 (a line starting '2 '); "
                            f"{got} - each TLE needs both lines",
                            lineno,
                            _norad_hint(raw[2:7]),
                        ),
                        record,
                    )
                )
                name = None
                i = j if j > i + 1 else i + 1
                continue
            pairs.append((raw, lines[j], lineno, j + 1, name, name_line, record))
            events.append((len(pairs) - 1, None, record))
            name = None
            i = j + 1
            continue
        if _is_l2(raw):
            col.count += 1
            events.append(
                (
                    None,
                    _Invalid(
                        "TLE line 2 without a line 1 before it; each TLE is a line 1 followed by "
                        "its line 2",
                        lineno,
                        _norad_hint(raw[2:7]),
                    ),
                    col.count,
                )
            )
            name = None
            i += 1
            continue
        # a name line
        if name is not None:
            col.count += 1
            events.append(
                (
                    None,
                    _Invalid(
                        f"name line {name!r} is not followed by TLE line 1 (a line starting "
                        "'1 '); a 3LE record is a name line, line 1 and line 2",
                        name_line,
                    ),
                    col.count,
                )
            )
        name = stripped[2:].strip() if stripped.startswith("0 ") else stripped
        name_line = lineno
        i += 1
    if name is not None:
        col.count += 1
        events.append(
            (
                None,
                _Invalid(
                    f"name line {name!r} at the end is not followed by a TLE; the text was cut "
                    "short",
                    name_line,
                ),
                col.count,
            )
        )

    fast_ok, fast = _fast_tle(pairs, verify_checksum) if fast_path else (None, {})
    if pairs and fast_ok is not None and fast_ok.all() and len(events) == len(pairs):
        # the common case: every record is a valid standard TLE, in file order
        c = col.cols
        for key, attr in _FAST_COLUMNS:
            getattr(c, attr).extend(fast[key])
        c.intl.extend(p[0][9:17].strip() for p in pairs)
        c.names.extend(p[4] or "" for p in pairs)
        c.lines.extend(p[5] if p[4] is not None else p[2] for p in pairs)
        c.records.extend(p[6] for p in pairs)
        return
    for k, error, record in events:
        if k is None:
            assert error is not None
            col.bad(error, record)
            continue
        l1, l2, n1, n2, pname, pline, _ = pairs[k]
        if fast_ok is not None and fast_ok[k]:
            rec = {key: values[k] for key, values in fast.items()}
            rec["intl"] = l1[9:17].strip()
        else:
            try:
                rec = _parse_tle_pair(l1, l2, n1, n2, verify_checksum)
            except _Invalid as exc:
                col.bad(exc, record)
                continue
        rec["name"] = pname or ""
        col.cols.add(rec, pline if pname is not None else n1, record)


_P10 = np.array([10.0**k for k in range(16)])  # exact powers of ten
_FAST_COLUMNS = (
    ("norad", "norad_ids"),
    ("epoch_ns", "epoch_ns"),
    ("inc", "inc"),
    ("raan", "raan"),
    ("ecc", "ecc"),
    ("argp", "argp"),
    ("ma", "ma"),
    ("n", "n"),
    ("bstar", "bstar"),
    ("ndot", "ndot"),
    ("nddot", "nddot"),
    ("cls", "cls"),
    ("elnum", "elnum"),
    ("rev", "rev"),
)


def _right_int(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-aligned digit fields (leading blanks allowed) of a uint8 block: (ok, value)."""
    is_dig = (sub >= 48) & (sub <= 57)
    is_sp = sub == 32
    seen = np.maximum.accumulate(is_dig, axis=1)
    ok = (is_dig | is_sp).all(axis=1) & ~(seen & is_sp).any(axis=1)
    weights = 10 ** np.arange(sub.shape[1] - 1, -1, -1, dtype=np.int64)
    return ok, np.where(is_dig, sub.astype(np.int64) - 48, 0) @ weights


def _digits(sub: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ((sub >= 48) & (sub <= 57)).all(axis=1)
    weights = 10 ** np.arange(sub.shape[1] - 1, -1, -1, dtype=np.int64)
    return ok, (sub.astype(np.int64) - 48) @ weights


def _fixed_point(
    block: np.ndarray, start: int, int_digits: int, frac_digits: int
) -> tuple[np.ndarray, np.ndarray]:
    """'DDD.DDDD'-style field (blanks allowed before the integer digits) as float."""
    ok_i, ip = _right_int(block[:, start : start + int_digits])
    dot = start + int_digits
    ok_f, fp = _digits(block[:, dot + 1 : dot + 1 + frac_digits])
    last = block[:, dot - 1]
    ok = ok_i & ok_f & (block[:, dot] == 46) & (last >= 48) & (last <= 57)
    return ok, (ip * 10**frac_digits + fp) / _P10[frac_digits]


def _exp_block(block: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Assumed-decimal field ' 12345-4' as float, correctly rounded like float('0.12345e-4')."""
    sign = block[:, start]
    ok_m, mant = _digits(block[:, start + 1 : start + 6])
    esign = block[:, start + 6]
    ok_e, exp = _digits(block[:, start + 7 : start + 8])
    ok = ok_m & ok_e & np.isin(sign, (32, 43, 45)) & np.isin(esign, (43, 45))
    e = np.where(esign == 45, -exp, exp)
    k = 5 - e  # value = mant / 10**k
    value = np.where(k >= 0, mant / _P10[np.clip(k, 0, 15)], mant * _P10[np.clip(-k, 0, 15)])
    return ok, np.where(sign == 45, -value, value)


def _fast_tle(
    pairs: list[tuple[str, str, int, int, str | None, int, int]], verify_checksum: bool
) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """Decode TLE pairs in the canonical layout with numpy; (ok mask, columns as lists).

    A record is ``ok`` only when every column is in the plain standard form and passes every
    check :func:`_parse_tle_pair` makes (which then decodes the same values); anything else
    (Alpha-5 ids, extra columns, any error) is left to :func:`_parse_tle_pair`, which gives
    the message. Values are bit-identical to the slow path (same correctly rounded decimals).
    """
    n = len(pairs)
    if n == 0:
        return np.zeros(0, dtype=bool), {}
    l1 = [p[0].rstrip() for p in pairs]
    l2 = [p[1].rstrip() for p in pairs]
    shape_ok = np.fromiter(
        (
            len(a) == 69 and len(b) == 69 and a.isascii() and b.isascii()
            for a, b in zip(l1, l2, strict=True)
        ),
        dtype=bool,
        count=n,
    )
    blank = " " * 69
    a = np.frombuffer(
        "".join(x if ok else blank for x, ok in zip(l1, shape_ok, strict=True)).encode("ascii"),
        dtype=np.uint8,
    ).reshape(n, 69)
    b = np.frombuffer(
        "".join(x if ok else blank for x, ok in zip(l2, shape_ok, strict=True)).encode("ascii"),
        dtype=np.uint8,
    ).reshape(n, 69)
    ok = shape_ok & (a[:, 0] == 49) & (b[:, 0] == 50)
    for col in _LINE1_BLANKS:
        ok &= a[:, col] == 32
    for col in _LINE2_BLANKS:
        ok &= b[:, col] == 32
    for m in (a, b):
        head = m[:, :68]
        is_dig = (head >= 48) & (head <= 57)
        check = m[:, 68]
        ok &= (check >= 48) & (check <= 57)
        if verify_checksum:
            total = np.where(is_dig, head - 48, 0).sum(axis=1) + (head == 45).sum(axis=1)
            ok &= (total % 10) == (check.astype(np.int64) - 48)
    ok_s1, sat1 = _digits(a[:, 2:7])
    ok_s2, sat2 = _digits(b[:, 2:7])
    ok &= ok_s1 & ok_s2 & (sat1 == sat2)
    ok &= np.isin(a[:, 7], (85, 67, 83)) & np.isin(a[:, 62], (48, 32))
    ok_y, yy = _digits(a[:, 18:20])
    ok_d, doy = _digits(a[:, 20:23])
    ok_fr, frac = _digits(a[:, 24:32])
    year = np.where(yy >= 57, 1900 + yy, 2000 + yy)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= ok_y & ok_d & ok_fr & (a[:, 23] == 46) & (doy >= 1) & (doy <= 365 + leap)
    year_start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    epoch_ns = (year_start + doy - 1) * _NS_PER_DAY + frac * (_NS_PER_DAY // 10**8)
    ok_nd, ndot_abs = _digits(a[:, 35:43])
    ok &= ok_nd & np.isin(a[:, 33], (32, 43, 45)) & (a[:, 34] == 46)
    ndot = np.where(a[:, 33] == 45, -1.0, 1.0) * (ndot_abs / _P10[8])
    ok_dd, nddot = _exp_block(a, 44)
    ok_b, bstar = _exp_block(a, 53)
    ok_el, elnum = _right_int(a[:, 64:68])
    ok &= ok_dd & ok_b & ok_el
    ok_i, inc = _fixed_point(b, 8, 3, 4)
    ok_r, raan = _fixed_point(b, 17, 3, 4)
    ok_e, ecc_int = _digits(b[:, 26:33])
    ok_a, argp = _fixed_point(b, 34, 3, 4)
    ok_m, ma = _fixed_point(b, 43, 3, 4)
    ok_n, mm = _fixed_point(b, 52, 2, 8)
    ok_rv, rev = _right_int(b[:, 63:68])
    ok &= ok_i & ok_r & ok_e & ok_a & ok_m & ok_n & ok_rv
    ok &= (inc <= 180.0) & (raan <= 360.0) & (argp <= 360.0) & (ma <= 360.0) & (mm > 0.0)
    cls = np.where(a[:, 7] == 85, "U", np.where(a[:, 7] == 67, "C", "S"))
    return ok, {
        "norad": sat1.tolist(),
        "epoch_ns": epoch_ns.tolist(),
        "inc": inc.tolist(),
        "raan": raan.tolist(),
        "ecc": (ecc_int / _P10[7]).tolist(),
        "argp": argp.tolist(),
        "ma": ma.tolist(),
        "n": mm.tolist(),
        "bstar": bstar.tolist(),
        "ndot": ndot.tolist(),
        "nddot": nddot.tolist(),
        "cls": cls.tolist(),
        "elnum": elnum.tolist(),
        "rev": rev.tolist(),
    }


# ============================================================ OMM


_OMM_EPOCH_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$")
_OMM_EPOCH_DOY_RE = re.compile(r"^(\d{4})-(\d{3})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$")


def _omm_epoch_ns(value: Any) -> int:
    text = str(value).strip()
    m = _OMM_EPOCH_RE.match(text)
    if m is not None:
        y, mo, d, hh, mm, ss, frac = m.groups()
        day_start = None
        year, month, day = int(y), int(mo), int(d)
        mdays = (31, 29 if _is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
        if 1 <= month <= 12 and 1 <= day <= mdays[month - 1]:
            day_start = _days_from_civil(year, month, day)
    else:
        m = _OMM_EPOCH_DOY_RE.match(text)
        day_start = None
        if m is not None:
            y, doy, hh, mm, ss, frac = m.groups()
            year = int(y)
            if 1 <= int(doy) <= (366 if _is_leap(year) else 365):
                day_start = _year_start_days(year) + int(doy) - 1
    if m is None or day_start is None or int(hh) > 23 or int(mm) > 59 or int(ss) > 60:
        raise _Invalid(
            f"EPOCH {text!r} is not a UTC date-time; expected ISO 8601 like "
            "2026-02-22T22:52:52.307616",
            None,
        )
    if not 1957 <= year <= 2200:
        raise _Invalid(f"EPOCH {text!r} is before the space age or after 2200", None)
    ns = (int(hh) * 3600 + int(mm) * 60 + int(ss)) * 10**9
    if frac:
        ns += int(frac.ljust(9, "0"))
    return day_start * _NS_PER_DAY + ns


def _omm_number(fields: dict[str, Any], key: str, *, integer: bool = False) -> Any:
    """A number from an OMM field given as a JSON number or as text."""
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(f"{key} is {value!r}; expected a number", None)
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_RE.match(text):
            what = "an empty value" if not text else repr(text)
            raise _Invalid(f"{key} is {what}; expected a number", None)
        x: float = float(text)
    else:
        x = float(value) if not isinstance(value, int) or abs(value) < 2**53 else math.inf
    if not math.isfinite(x):
        raise _Invalid(f"{key} is {value!r}; expected a finite number", None)
    if integer:
        if x != int(x) or not 0 <= x < 10**9:
            raise _Invalid(f"{key} is {value!r}; expected a whole number 0..999999999", None)
        return int(x)
    return x


def _omm_record(fields: Any) -> dict[str, Any]:
    """Validate and decode one OMM record (a dict of CCSDS keys)."""
    if isinstance(fields, _RowError):  # a CSV row the reader could not split
        raise _Invalid(fields.reason, None)
    if not isinstance(fields, dict):
        raise _Invalid(
            f"an OMM record must be an object of CCSDS keys, got {type(fields).__name__}", None
        )
    norad: int | None = None
    try:
        norad = _omm_number(fields, "NORAD_CAT_ID", integer=True)
    except _Invalid:
        norad = None
    missing = [
        k
        for k in _OMM_REQUIRED
        if fields.get(k) is None or (isinstance(fields.get(k), str) and not fields[k].strip())
    ]
    if missing:
        raise _Invalid(
            f"missing OMM key{'s' if len(missing) > 1 else ''} {', '.join(missing)}; an OMM for "
            f"SGP4 needs {', '.join(_OMM_REQUIRED)}",
            None,
            norad,
        )
    try:
        theory = fields.get("MEAN_ELEMENT_THEORY")
        if theory is not None and str(theory).strip().upper() not in ("SGP4", "SGP/SGP4", ""):
            raise _Invalid(
                f"MEAN_ELEMENT_THEORY is {theory!r}; only SGP4 mean elements can be used "
                "(SGP4-XP and other theories are not compatible with SGP4)",
                None,
            )
        ephtype = 0
        if fields.get("EPHEMERIS_TYPE") not in (None, ""):
            ephtype = _omm_number(fields, "EPHEMERIS_TYPE", integer=True)
        if ephtype == 4:
            raise _Invalid(_SGP4XP, None)
        if ephtype not in (0, 1, 2, 3):
            raise _Invalid(f"EPHEMERIS_TYPE is {ephtype}; expected 0 (SGP4)", None)
        if norad is None:
            raise _Invalid(
                f"NORAD_CAT_ID is {fields.get('NORAD_CAT_ID')!r}; expected a whole number", None
            )
        if norad < 0:
            raise _Invalid(f"NORAD_CAT_ID is {norad}; expected >= 0", None)
        rec = {
            "norad": norad,
            "name": str(fields.get("OBJECT_NAME") or "").strip(),
            "intl": str(fields.get("OBJECT_ID") or "").strip(),
            "epoch_ns": _omm_epoch_ns(fields["EPOCH"]),
            "n": _omm_number(fields, "MEAN_MOTION"),
            "ecc": _omm_number(fields, "ECCENTRICITY"),
            "inc": _omm_number(fields, "INCLINATION"),
            "raan": _omm_number(fields, "RA_OF_ASC_NODE"),
            "argp": _omm_number(fields, "ARG_OF_PERICENTER"),
            "ma": _omm_number(fields, "MEAN_ANOMALY"),
            "bstar": _omm_number(fields, "BSTAR"),
            "ndot": _omm_number(fields, "MEAN_MOTION_DOT"),
            "nddot": _omm_number(fields, "MEAN_MOTION_DDOT"),
            "cls": str(fields.get("CLASSIFICATION_TYPE") or "U").strip() or "U",
            "elnum": 0,
            "rev": 0,
        }
        if fields.get("ELEMENT_SET_NO") not in (None, ""):
            rec["elnum"] = _omm_number(fields, "ELEMENT_SET_NO", integer=True)
        if fields.get("REV_AT_EPOCH") not in (None, ""):
            rec["rev"] = _omm_number(fields, "REV_AT_EPOCH", integer=True)
    except _Invalid as exc:
        exc.norad_id = norad
        raise
    if rec["cls"] not in ("U", "C", "S"):
        raise _Invalid(f"CLASSIFICATION_TYPE is {rec['cls']!r}; expected U, C or S", None, norad)
    if rec["n"] <= 0:
        raise _Invalid(f"MEAN_MOTION is {rec['n']}; it must be > 0 rev/day", None, norad)
    if not 0.0 <= rec["ecc"] < 1.0:
        raise _Invalid(f"ECCENTRICITY is {rec['ecc']}; it must be in 0 <= e < 1", None, norad)
    if not 0.0 <= rec["inc"] <= 180.0:
        raise _Invalid(f"INCLINATION is {rec['inc']}; it must be in 0..180 degrees", None, norad)
    return rec


def _label(rec_no: int, fields: Any) -> str:
    name = fields.get("OBJECT_NAME") if isinstance(fields, dict) else None
    return f"record {rec_no}" + (f" ({name})" if name else "")


def _parse_omm_records(records: Iterable[tuple[int | None, Any]], col: _Collector) -> None:
    for line, fields in records:
        col.count += 1
        try:
            rec = _omm_record(fields)
        except _Invalid as exc:
            exc.line = line
            if line is None:
                exc.reason = f"{_label(col.count, fields)}: {exc.reason}"
            col.bad(exc, col.count)
        else:
            col.cols.add(rec, line, col.count)


def _parse_omm_json(text: str, col: _Collector) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"not valid JSON ({exc.msg} at column {exc.colno}); expected OMM JSON: a list of "
            "objects with CCSDS keys such as OBJECT_NAME, EPOCH, MEAN_MOTION",
            source=col.source,
            line=exc.lineno,
        ) from None
    except RecursionError:
        raise ParseError("JSON is nested too deeply to be OMM", source=col.source) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ParseError(
            f"OMM JSON must be a list of objects or one object, not a {type(data).__name__}",
            source=col.source,
        )
    _parse_omm_records(((None, item) for item in data), col)


def _parse_omm_csv(text: str, col: _Collector) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise ParseError("the CSV has no header row", source=col.source, line=1)
        header = [h.strip().lstrip("\ufeff").upper() for h in header]
        missing = [k for k in _OMM_REQUIRED if k not in header]
        if missing:
            raise ParseError(
                f"the CSV header lacks {', '.join(missing)}; OMM CSV needs the columns "
                f"{', '.join(OMM_KEYS)}",
                source=col.source,
                line=reader.line_num,
            )

        def rows() -> Iterator[tuple[int | None, Any]]:
            for row in reader:
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    yield (
                        reader.line_num,
                        _RowError(
                            f"the row has {len(row)} fields but the header has {len(header)}; a "
                            "field is missing or holds an unquoted comma"
                        ),
                    )
                    continue
                yield reader.line_num, dict(zip(header, row, strict=True))

        _parse_omm_records(rows(), col)
    except csv.Error as exc:
        raise ParseError(
            f"the CSV is malformed ({exc}); expected OMM CSV with a header row",
            source=col.source,
            line=reader.line_num,
        ) from None


_DTD_RE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass
class _RowError:
    reason: str


def _parse_omm_xml(text: str, col: _Collector) -> None:
    if _DTD_RE.search(text):
        raise ParseError(
            "XML with a DOCTYPE or ENTITY declaration is refused (OMM XML needs neither)",
            source=col.source,
        )
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise ParseError(
            f"not well-formed XML ({exc}); expected CCSDS OMM XML (<ndm><omm>...)",
            source=col.source,
            line=line,
        ) from None

    def local(tag: Any) -> str:
        return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""

    segments = list(root.iter("segment")) or [
        el for el in root.iter() if local(el.tag) == "segment"
    ]
    if not segments:
        raise ParseError(
            f"no <segment> elements in the <{local(root.tag)}> document; expected CCSDS OMM "
            "XML as CelesTrak serves it (<ndm><omm><body><segment>...)",
            source=col.source,
        )

    def records() -> Iterator[tuple[int | None, Any]]:
        for seg in segments:
            fields: dict[str, Any] = {}
            for part in seg:
                tag = local(part.tag)
                groups = [part] if tag == "metadata" else list(part) if tag == "data" else []
                for group in groups:
                    for e in group:
                        key = e.tag if isinstance(e.tag, str) and "}" not in e.tag else local(e.tag)
                        fields[key] = (e.text or "").strip()
            yield None, fields

    _parse_omm_records(records(), col)


# ============================================================ detection


def _canonical_format(format: str) -> str:
    key = str(format).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise InputError(
            f"unknown element-set format {format!r}; choose one of {', '.join(FORMATS)}"
        )
    return key


def detect_format(text: str, source: str = "<text>") -> str:
    """Name the format of ``text``: one of :data:`FORMATS`.

    Raises :class:`~skyfence.errors.ParseError` in one line listing the formats understood
    when the text matches none of them.

    Examples
    --------
    >>> detect_format('[{"OBJECT_NAME": "X", "EPOCH": "2026-02-22T00:00:00"}]')
    'omm-json'
    """
    body = text.lstrip("\ufeff \t\r\n")
    if not body.strip():
        raise ParseError(
            "the text is empty; expected element sets as TLE, 3LE, OMM JSON, OMM CSV or OMM XML",
            source=source,
        )
    head = [ln for ln in body.splitlines()[:4] if ln.strip()]
    if len(head) >= 3 and _is_l1(head[1]) and _is_l2(head[2]) and not _is_l1(head[0]):
        return "3le"  # checked first: a satellite may be called "<" or "[" or "a,b"
    if body.startswith(("[", "{")):
        return "omm-json"
    if body.startswith("<"):
        return "omm-xml"
    first = body.split("\n", 1)[0].upper()
    if "," in first and (
        "NORAD_CAT_ID" in first or "MEAN_MOTION" in first or "OBJECT_NAME" in first
    ):
        return "omm-csv"
    lines = [ln for ln in body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    has_l1 = any(_is_l1(ln) for ln in lines[:200])
    has_l2 = any(_is_l2(ln) for ln in lines[:200])
    if has_l1 or has_l2:
        for k, ln in enumerate(lines[:200]):
            if not (_is_l1(ln) or _is_l2(ln)) and k + 1 < len(lines) and _is_l1(lines[k + 1]):
                return "3le"
        return "tle"
    first_line = body.split("\n", 1)[0].strip()[:40]
    raise ParseError(
        f"cannot tell the format (starts with {first_line!r}); understood formats: TLE and 3LE "
        "(lines starting '1 ' and '2 '), OMM JSON, OMM CSV (header with NORAD_CAT_ID), OMM XML "
        "(<ndm>); pass format= one of " + ", ".join(FORMATS),
        source=source,
    )


# ============================================================ public readers


def parse_elements(
    text: str | bytes,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    source: str = "<text>",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ElementSet:
    """Parse element sets from text in any of :data:`FORMATS`.

    Parameters
    ----------
    text : str or bytes
        The content (bytes are decoded as UTF-8; a byte-order mark is ignored).
    format : str, optional
        One of :data:`FORMATS` (also ``json``, ``csv``, ``xml``); detected when omitted.
    on_invalid : {"raise", "skip"}
        ``"raise"``: the first invalid record raises :class:`~skyfence.errors.ParseError`
        naming the source, line and reason. ``"skip"``: invalid records are left out and
        listed in ``result.report.skipped``.
    source : str
        Name used in messages and in the report.
    duplicates : {"newest", "keep"}
        ``"newest"`` keeps, per NORAD id, the record with the newest epoch (the later one in
        the file on a tie) and lists the others in ``result.report.duplicates``; ``"keep"``
        keeps every record.
    verify_checksum : bool
        Check TLE checksums (default). ``False`` accepts lines with wrong checksums, as the
        reference SGP4 code does for its verification file.

    Returns
    -------
    ElementSet
        The valid records in file order, with ``report`` set to a :class:`ParseReport`.
    """
    from skyfence.orbits.elements import ElementSet

    if on_invalid not in ("raise", "skip"):
        raise InputError(f"on_invalid must be 'raise' or 'skip', got {on_invalid!r}")
    if duplicates not in ("newest", "keep"):
        raise InputError(f"duplicates must be 'newest' or 'keep', got {duplicates!r}")
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"the content is not UTF-8 text (byte {exc.start}); element sets are plain "
                "text, JSON, CSV or XML",
                source=source,
            ) from None
    text = text.lstrip("\ufeff")
    if "\x00" in text:
        raise ParseError(
            "the content contains NUL bytes; element sets are plain text - is this a binary "
            "or compressed file?",
            source=source,
        )
    fmt = _canonical_format(format) if format is not None else detect_format(text, source)
    col = _Collector(source, on_invalid)
    if fmt in ("tle", "3le"):
        _parse_tle_text(text, col, verify_checksum)
    elif fmt == "omm-json":
        _parse_omm_json(text, col)
    elif fmt == "omm-csv":
        _parse_omm_csv(text, col)
    else:
        _parse_omm_xml(text, col)

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
        source=source,
        format=fmt,
        records_read=col.count,
        skipped=tuple(col.skipped),
        duplicates=tuple(dropped),
    )
    epochs = pick(c.epoch_ns, np.int64).astype("datetime64[ns]")
    try:
        return ElementSet(
            names=pick(c.names, object),
            norad_ids=pick(c.norad_ids, np.int64),
            epochs=epochs,
            inclination_deg=pick(c.inc, np.float64),
            raan_deg=pick(c.raan, np.float64),
            eccentricity=pick(c.ecc, np.float64),
            arg_perigee_deg=pick(c.argp, np.float64),
            mean_anomaly_deg=pick(c.ma, np.float64),
            mean_motion_rev_per_day=pick(c.n, np.float64),
            bstar=pick(c.bstar, np.float64),
            mean_motion_dot=pick(c.ndot, np.float64),
            mean_motion_ddot=pick(c.nddot, np.float64),
            international_designators=pick(c.intl, object),
            classification=pick(c.cls, object),
            element_set_no=pick(c.elnum, np.int64),
            rev_at_epoch=pick(c.rev, np.int64),
            source=source,
            report=report,
        )
    except InputError as exc:  # pragma: no cover - records are validated above
        raise ParseError(str(exc), source=source) from None


def read_elements(
    path: str | Path,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ElementSet:
    """Read an element-set file; see :func:`parse_elements` for the parameters.

    The format is detected from the content (not the suffix) unless ``format`` is given.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        from skyfence.errors import NotFoundError

        raise NotFoundError(f"element-set file {str(p)!r} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{str(p)!r} is a directory; give an element-set file") from None
    return parse_elements(
        data,
        format=format,
        on_invalid=on_invalid,
        source=p.name,
        duplicates=duplicates,
        verify_checksum=verify_checksum,
    )


# ============================================================ writers


def _exp_field(value: float, name: str, norad: int) -> str:
    """TLE assumed-decimal field: 2.8098e-05 -> ' 28098-4'."""
    if value == 0.0 or not math.isfinite(value):
        if not math.isfinite(value):
            raise InputError(f"NORAD {norad}: {name} is {value}; it must be finite")
        return " 00000+0"
    s = f"{abs(value):.4e}"  # 'd.dddde±XX', correctly rounded
    digits = s[0] + s[2:6]
    exp = int(s[7:]) + 1
    if exp < -9:
        return " 00000+0"
    if exp > 9:
        raise InputError(
            f"NORAD {norad}: {name} {value} is too large for the TLE field; write OMM instead"
        )
    return f"{'-' if value < 0 else ' '}{digits}{'-' if exp < 0 else '+'}{abs(exp)}"


def _ndot_field(value: float, norad: int) -> str:
    s = f"{abs(value):.8f}"
    if not math.isfinite(value) or not s.startswith("0."):
        raise InputError(
            f"NORAD {norad}: mean_motion_dot {value} does not fit the TLE field (|x| < 1); "
            "write OMM instead"
        )
    return ("-" if value < 0 and s != "0.00000000" else " ") + s[1:]


def _tle_epoch_fields(epochs: np.ndarray) -> list[str]:
    """Epochs as TLE 'YYDDD.DDDDDDDD' (rounded to 1e-8 day, carrying into the next year)."""
    ns = np.asarray(epochs, dtype="datetime64[ns]")
    year_start = ns.astype("datetime64[Y]")
    since = (ns - year_start.astype("datetime64[ns]")).astype(np.int64)
    unit = _NS_PER_DAY // 10**8  # 1e-8 day = 864000 ns
    units = (since * 2 + unit) // (2 * unit)
    years = year_start.astype(np.int64) + 1970
    out = []
    for year, u in zip(years.tolist(), units.tolist(), strict=True):
        doy, frac = divmod(u, 10**8)
        if doy >= (366 if _is_leap(year) else 365):  # rounded into the next year
            year, doy = year + 1, 0
        if not 1957 <= year <= 2056:
            raise InputError(
                f"epoch year {year} cannot be written in a TLE (two-digit years cover "
                "1957-2056); write OMM instead"
            )
        out.append(f"{year % 100:02d}{doy + 1:03d}.{frac:08d}")
    return out


def _tle_intl(designator: str) -> str:
    d = designator.strip()
    m = re.fullmatch(r"(\d{4})-(\d{3})([A-Z]{1,3})", d)
    if m:
        d = m.group(1)[2:] + m.group(2) + m.group(3)
    if len(d) > 8:
        raise InputError(f"international designator {designator!r} does not fit the 8 TLE columns")
    return d


def _omm_intl(designator: str) -> str:
    d = designator.strip()
    m = re.fullmatch(r"(\d{2})(\d{3})([A-Z]{1,3})", d)
    if m:
        yy = int(m.group(1))
        return f"{1900 + yy if yy >= 57 else 2000 + yy}-{m.group(2)}{m.group(3)}"
    return d


def _angle_360(x: float) -> float:
    y = math.fmod(x, 360.0)
    return y + 360.0 if y < 0 else y


def _tle_line_pairs(es: ElementSet) -> Iterator[tuple[str, str]]:
    epochs = _tle_epoch_fields(es.epochs)
    columns = zip(
        es.norad_ids.tolist(),
        es.inclination_deg.tolist(),
        es.eccentricity.tolist(),
        es.mean_motion_rev_per_day.tolist(),
        es.classification.tolist(),
        es.international_designators.tolist(),
        epochs,
        es.mean_motion_dot.tolist(),
        es.mean_motion_ddot.tolist(),
        es.bstar.tolist(),
        es.element_set_no.tolist(),
        es.raan_deg.tolist(),
        es.arg_perigee_deg.tolist(),
        es.mean_anomaly_deg.tolist(),
        es.rev_at_epoch.tolist(),
        strict=True,
    )
    for (
        norad,
        inc,
        e,
        n,
        cls,
        intl,
        epoch,
        ndot,
        nddot,
        bstar,
        elnum,
        raan,
        argp,
        ma,
        rev,
    ) in columns:
        sat = to_alpha5(norad)
        if not 0.0 <= inc <= 180.0:
            raise InputError(f"NORAD {norad}: inclination {inc} is outside 0..180 degrees")
        ecc = f"{e:.7f}"
        if not ecc.startswith("0."):
            raise InputError(f"NORAD {norad}: eccentricity {e} rounds to 1")
        nf = f"{n:11.8f}"
        if len(nf) != 11:
            raise InputError(f"NORAD {norad}: mean motion {n} does not fit the TLE field")
        line1 = (
            f"1 {sat}{str(cls or 'U')[:1]} {_tle_intl(str(intl)):<8} {epoch} "
            f"{_ndot_field(ndot, norad)} {_exp_field(nddot, 'mean_motion_ddot', norad)} "
            f"{_exp_field(bstar, 'bstar', norad)} 0 {elnum % 10000:4d}"
        )
        line2 = (
            f"2 {sat} {inc:8.4f} {_angle_360(raan):8.4f} {ecc[2:]} {_angle_360(argp):8.4f} "
            f"{_angle_360(ma):8.4f} {nf}{rev % 100000:5d}"
        )
        yield line1 + str(tle_checksum(line1)), line2 + str(tle_checksum(line2))


def _omm_epoch_texts(epochs: np.ndarray) -> list[str]:
    """ISO epochs to the microsecond (CelesTrak's form), or to the ns when that is needed."""
    ns = np.asarray(epochs, dtype="datetime64[ns]")
    us = np.datetime_as_string(ns.astype("datetime64[us]"), unit="us").tolist()
    exact = (ns.astype(np.int64) % 1000 == 0).tolist()
    if all(exact):
        return us
    full = np.datetime_as_string(ns, unit="ns").tolist()
    return [a if ok else b for a, b, ok in zip(us, full, exact, strict=True)]


def _omm_dicts(es: ElementSet) -> list[dict[str, Any]]:
    columns = zip(
        es.names.tolist(),
        es.international_designators.tolist(),
        _omm_epoch_texts(es.epochs),
        es.mean_motion_rev_per_day.tolist(),
        es.eccentricity.tolist(),
        es.inclination_deg.tolist(),
        es.raan_deg.tolist(),
        es.arg_perigee_deg.tolist(),
        es.mean_anomaly_deg.tolist(),
        es.classification.tolist(),
        es.norad_ids.tolist(),
        es.element_set_no.tolist(),
        es.rev_at_epoch.tolist(),
        es.bstar.tolist(),
        es.mean_motion_dot.tolist(),
        es.mean_motion_ddot.tolist(),
        strict=True,
    )
    return [
        {
            "OBJECT_NAME": str(name),
            "OBJECT_ID": _omm_intl(str(intl)),
            "EPOCH": epoch,
            "MEAN_MOTION": n,
            "ECCENTRICITY": e,
            "INCLINATION": inc,
            "RA_OF_ASC_NODE": raan,
            "ARG_OF_PERICENTER": argp,
            "MEAN_ANOMALY": ma,
            "EPHEMERIS_TYPE": 0,
            "CLASSIFICATION_TYPE": str(cls or "U"),
            "NORAD_CAT_ID": norad,
            "ELEMENT_SET_NO": elnum,
            "REV_AT_EPOCH": rev,
            "BSTAR": bstar,
            "MEAN_MOTION_DOT": ndot,
            "MEAN_MOTION_DDOT": nddot,
        }
        for (
            name,
            intl,
            epoch,
            n,
            e,
            inc,
            raan,
            argp,
            ma,
            cls,
            norad,
            elnum,
            rev,
            bstar,
            ndot,
            nddot,
        ) in columns
    ]


def _omm_xml_text(es: ElementSet) -> str:
    """CCSDS NDM/OMM XML in CelesTrak's layout (one ``<omm>`` per satellite)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<ndm xmlns:xsi="http://www.w3.org/2001/'
        'XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://sanaregistry.org/r/'
        'ndmxml_unqualified/ndmxml-2.0.0-master-2.0.xsd">\n'
    ]
    fixed = {
        "CENTER_NAME": "EARTH",
        "REF_FRAME": "TEME",
        "TIME_SYSTEM": "UTC",
        "MEAN_ELEMENT_THEORY": "SGP4",
    }

    def tags(values: dict[str, Any], keys: tuple[str, ...]) -> str:
        out = []
        for key in keys:
            v = values[key]
            text = repr(v) if isinstance(v, float) else xml_escape(str(v))
            out.append(f"<{key}>{text}</{key}>")
        return "".join(out)

    for rec in _omm_dicts(es):
        values = {**rec, **fixed}
        parts.append(
            '<omm id="CCSDS_OMM_VERS" version="2.0">'
            "<header><CREATION_DATE/><ORIGINATOR/></header>"
            f"<body><segment><metadata>{tags(values, _XML_META)}</metadata>"
            f"<data><meanElements>{tags(values, _XML_MEAN)}</meanElements>"
            f"<tleParameters>{tags(values, _XML_TLE)}</tleParameters></data>"
            "</segment></body></omm>\n"
        )
    parts.append("</ndm>\n")
    return "".join(parts)


def format_elements(elements: ElementSet, format: str) -> str:
    """The text of ``elements`` in one of :data:`FORMATS`.

    TLE fields have fixed precision (angles 1e-4 degrees, mean motion 1e-8 rev/day, epoch
    1e-8 day, 5 significant digits for BSTAR and the second derivative); OMM keeps every
    digit (floats are written in their shortest round-trip form, epochs to the microsecond,
    or to the nanosecond when needed). Angles are written in 0..360 for TLEs.
    """
    fmt = _canonical_format(format)
    if fmt in ("tle", "3le"):
        out: list[str] = []
        names = elements.names.tolist()
        ids = elements.norad_ids.tolist()
        for (l1, l2), name, norad in zip(_tle_line_pairs(elements), names, ids, strict=True):
            if fmt == "3le":
                out.append(str(name or f"NORAD {norad}").ljust(_NAME_MAX))
            out.append(l1)
            out.append(l2)
        return "\n".join(out) + ("\n" if out else "")
    if fmt == "omm-json":
        return json.dumps(_omm_dicts(elements), indent=None, separators=(",", ":")) + "\n"
    if fmt == "omm-csv":
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(OMM_KEYS), lineterminator="\r\n")
        writer.writeheader()
        for rec in _omm_dicts(elements):
            writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in rec.items()})
        return buf.getvalue()
    return _omm_xml_text(elements)


def format_for_path(path: str | Path) -> str:
    """The format :func:`write_elements` picks for ``path`` from its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"cannot tell the format from the suffix {suffix or '(none)'!r} of {str(path)!r}; "
            f"use one of {', '.join(_SUFFIXES)} or pass format= one of {', '.join(FORMATS)}"
        )
    return _SUFFIXES[suffix]


def write_elements(elements: ElementSet, path: str | Path, *, format: str | None = None) -> Path:
    """Write ``elements`` to ``path`` atomically (a temporary file, then a rename).

    The format comes from the suffix (``.tle``/``.txt`` TLE, ``.3le`` 3LE, ``.json``,
    ``.csv``, ``.xml`` OMM) unless ``format`` is given. Returns the path written.
    """
    p = Path(path)
    fmt = _canonical_format(format) if format is not None else format_for_path(p)
    text = format_elements(elements, fmt)
    directory = p.parent if str(p.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"cannot write {str(p)!r}: the directory {str(directory)!r} is missing")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p
