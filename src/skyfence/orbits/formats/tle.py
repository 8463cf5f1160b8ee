"""TLE and 3LE: the reader (line pairing, field-by-field validation) and the writer.

A two-line element set is a line 1 and a line 2 of 69 columns each; a 3LE puts a name line
before each (``STARLINK-1008`` or ``0 STARLINK-1008``). The reader pairs the lines into
records, decodes the records in the standard layout with numpy (:mod:`.tle_fast`) and
validates everything else field by field here, with a message naming the line, the columns
and the fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

import skyfence.orbits.formats.tle_fast as tle_fast
from skyfence.errors import InputError
from skyfence.orbits.formats.fields import (
    NS_PER_DAY,
    NUMBER_RE,
    SGP4XP,
    below_surface,
    inside_earth_reason,
    is_leap,
    year_start_days,
)
from skyfence.orbits.formats.records import Collector, ElementColumns, InvalidRecord
from skyfence.orbits.formats.tle_fast import LINE1_BLANKS, LINE2_BLANKS

__all__ = [
    "tle_checksum",
    "to_alpha5",
    "from_alpha5",
    "is_line1",
    "is_line2",
    "parse_pair",
    "parse_tle_lines",
    "format_tle",
    "NAME_MAX",
]

_DIGITS = "0123456789"
_ALPHA5_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used


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
    if len(s) > 5:
        raise InputError(
            f"catalogue number {text[:12]!r}{'...' if len(text) > 12 else ''} has more than 5 "
            "characters; a TLE catalogue number is 5 digits, or Alpha-5 (A0001 = 100001)"
        )
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


def _alpha5_field(text: str) -> int:
    try:
        return from_alpha5(text)
    except InputError as exc:
        raise InvalidRecord(f"{exc} (columns 3-7)", None) from None


def _norad_hint(text: str) -> int | None:
    try:
        return from_alpha5(text)
    except InputError:
        return None


_EXP_RE = re.compile(r"^([ +-])(\d{5})([ +-])(\d)$")
_EXP_RE_LOOSE = re.compile(r"^\s*([+-]?)(\d{1,5})([+-]?)(\d)$")
_TLE_EPOCH_RE = re.compile(r"(\d\d)([ \d]{2}\d)\.(\d{1,8}) *")


def _field_error(name: str, col: str, value: str, expected: str) -> str:
    return f"{name} (columns {col}) is {value!r}; expected {expected}"


def _parse_float(value: str, name: str, col: str, expected: str) -> float:
    s = value.strip()
    if not NUMBER_RE.match(s):
        raise InvalidRecord(_field_error(name, col, value, expected), None)
    x = float(s)
    if not math.isfinite(x):
        raise InvalidRecord(_field_error(name, col, value, expected), None)
    return x


def _parse_exp_field(value: str, name: str, col: str) -> float:
    """TLE 'assumed decimal' field: ' 12345-4' = +0.12345e-4."""
    m = _EXP_RE.match(value) or _EXP_RE_LOOSE.match(value)
    if m is None:
        raise InvalidRecord(
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
        raise InvalidRecord(_field_error(name, col, value, "digits"), None)
    return int(s)


def _tle_epoch_ns(field_: str) -> int:
    """Epoch 'YYDDD.DDDDDDDD' to nanoseconds since 1970, exactly (rounded to the ns)."""
    m = _TLE_EPOCH_RE.fullmatch(field_)
    if m is None:
        raise InvalidRecord(
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
    ndays = 366 if is_leap(year) else 365
    if not 1 <= doy <= ndays:
        raise InvalidRecord(
            f"epoch (columns 19-32) {field_.strip()!r} has day of year {doy}; {year} has days "
            f"1..{ndays}",
            None,
        )
    frac_ns = 0
    if frac:
        scale = 10 ** len(frac)
        frac_ns = (int(frac) * NS_PER_DAY * 2 + scale) // (2 * scale)  # round half up
    return (year_start_days(year) + doy - 1) * NS_PER_DAY + frac_ns


def _check_tle_line(text: str, number: str, lineno: int, verify_checksum: bool = True) -> str:
    """Length, line number, layout and checksum of one TLE line; returns its 69 columns."""
    line = text.rstrip()
    if len(line) < 69:
        raise InvalidRecord(
            f"TLE line {number} is {len(line)} characters long; it must have 69 (columns 1-68 "
            "and the checksum in column 69) - the line was cut short or wrapped",
            lineno,
        )
    if len(line) > 69 and not line[69].isspace():
        raise InvalidRecord(
            f"TLE line {number} is {len(line)} characters long; it must have 69 (anything "
            "after column 69 must be separated by a blank) - fields are shifted",
            lineno,
        )
    line = line[:69]
    if line[0] != number:
        raise InvalidRecord(
            f"expected TLE line {number} here but the line starts with {line[0]!r}; each TLE "
            "is a line 1 followed by its line 2",
            lineno,
        )
    if not line.isascii():
        raise InvalidRecord(f"TLE line {number} contains non-ASCII characters", lineno)
    for col in LINE1_BLANKS if number == "1" else LINE2_BLANKS:
        if line[col] != " ":
            raise InvalidRecord(
                f"TLE line {number} column {col + 1} must be blank but holds {line[col]!r}; "
                "the fields are not in the standard TLE column layout",
                lineno,
            )
    check = line[68]
    if not check.isdigit():
        raise InvalidRecord(
            f"TLE line {number} checksum (column 69) is {check!r}; expected a digit", lineno
        )
    expected = tle_checksum(line)
    if verify_checksum and int(check) != expected:
        raise InvalidRecord(
            f"checksum is {check} but the line's digits add up to {expected} (mod 10, '-' "
            "counts 1); the line is corrupted - re-download the file",
            lineno,
        )
    return line


def parse_pair(l1: str, l2: str, n1: int, n2: int, verify_checksum: bool) -> dict[str, Any]:
    """Validate and decode one TLE; raises InvalidRecord with the line number."""
    norad = _norad_hint(l1[2:7])
    try:
        l1 = _check_tle_line(l1, "1", n1, verify_checksum)
        l2 = _check_tle_line(l2, "2", n2, verify_checksum)
    except InvalidRecord as exc:
        exc.norad_id = norad
        raise

    lineno = n1
    try:
        sat1 = _alpha5_field(l1[2:7])
        lineno = n2
        sat2 = _alpha5_field(l2[2:7])
        if sat1 != sat2:
            raise InvalidRecord(
                f"catalogue number on line 2 ({l2[2:7].strip()}) differs from line 1 "
                f"({l1[2:7].strip()}); the two lines belong to different satellites",
                n2,
            )
        lineno = n1
        cls = l1[7]
        if cls not in "UCS ":
            raise InvalidRecord(f"classification (column 8) is {cls!r}; expected U, C or S", n1)
        ephtype = l1[62]
        if ephtype == "4":
            raise InvalidRecord(SGP4XP, n1)
        if ephtype not in " 0123":
            raise InvalidRecord(f"ephemeris type (column 63) is {ephtype!r}; expected 0 (SGP4)", n1)
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
            raise InvalidRecord(
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
    except InvalidRecord as exc:
        exc.line = lineno
        exc.norad_id = norad
        raise
    if not 0.0 <= inc <= 180.0:
        raise InvalidRecord(f"inclination {inc} is outside 0..180 degrees", n2, sat1)
    for name, value in (
        ("right ascension of the node", raan),
        ("argument of perigee", argp),
        ("mean anomaly", ma),
    ):
        if not 0.0 <= value <= 360.0:
            raise InvalidRecord(f"{name} {value} is outside 0..360 degrees", n2, sat1)
    if n <= 0.0:
        raise InvalidRecord(
            f"mean motion (columns 53-63) is {n}; it must be > 0 revolutions per day", n2, sat1
        )
    if below_surface(n, ecc, inc):
        raise InvalidRecord(inside_earth_reason("mean motion (columns 53-63)", n), n2, sat1)
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
NAME_MAX = 24


def is_line1(line: str) -> bool:
    return line[:2] == "1 " and len(line.rstrip()) > NAME_MAX


def is_line2(line: str) -> bool:
    return line[:2] == "2 " and len(line.rstrip()) > NAME_MAX


BATCH_RECORDS = 4096
"""Records decoded together by the numpy path (and the most a bad record waits to be seen)."""

_Pair = tuple[str, str, int, int, str | None, int, int]  # l1, l2, n1, n2, name, name line, record


class _TleReader:
    """Pairs lines into records as they arrive and decodes them batch by batch.

    Records are handed to the :class:`Collector` in file order. With ``on_invalid="raise"``
    a record that cannot be paired is reported as soon as it is seen (after the records
    before it are checked), so a file of garbage fails at its first line.
    """

    def __init__(self, col: Collector, verify_checksum: bool, fast_path: bool) -> None:
        self.col = col
        self.verify_checksum = verify_checksum
        self.fast_path = fast_path
        # records in file order: (index into pairs, None, record) or (None, error, record)
        self.events: list[tuple[int | None, InvalidRecord | None, int]] = []
        self.pairs: list[_Pair] = []
        self.name: str | None = None
        self.name_line = 0
        self.line1: tuple[str, int, int] | None = None  # waiting for its line 2

    def error(self, reason: str, line: int, norad: int | None = None) -> None:
        self.col.count += 1
        self._event(None, InvalidRecord(reason, line, norad), self.col.count)

    def _event(self, pair: int | None, error: InvalidRecord | None, record: int) -> None:
        self.events.append((pair, error, record))
        if len(self.events) >= BATCH_RECORDS or (
            error is not None and self.col.on_invalid == "raise"
        ):
            self.flush()

    def feed(self, raw: str, lineno: int) -> None:
        """Take one line."""
        line1 = self.line1
        if line1 is not None and raw[:2] == "2 " and len(raw.rstrip()) > NAME_MAX:
            # the common case first: the line 2 of the line 1 just read
            pairs, events = self.pairs, self.events
            pairs.append((line1[0], raw, line1[1], lineno, self.name, self.name_line, line1[2]))
            events.append((len(pairs) - 1, None, line1[2]))
            self.line1 = self.name = None
            if len(events) >= BATCH_RECORDS:
                self.flush()
            return
        stripped = raw.strip()
        if line1 is not None:
            if not stripped:
                return
            l1, n1, record = self.line1
            self.line1 = None
            if is_line2(raw):
                self.pairs.append((l1, raw, n1, lineno, self.name, self.name_line, record))
                self.name = None
                self._event(len(self.pairs) - 1, None, record)
                return
            self.name = None
            self._event(
                None, self._no_line2(l1, n1, f"the next line starts {stripped[:12]!r}"), record
            )
        if not stripped or stripped.startswith("#"):
            return
        if is_line1(raw):
            self.col.count += 1
            self.line1 = (raw, lineno, self.col.count)
            return
        if is_line2(raw):
            self.name = None
            self.error(
                "TLE line 2 without a line 1 before it; each TLE is a line 1 followed by its "
                "line 2",
                lineno,
                _norad_hint(raw[2:7]),
            )
            return
        if self.name is not None:  # a name line after a name line
            self.error(
                f"name line {self.name!r} is not followed by TLE line 1 (a line starting "
                "'1 '); a 3LE record is a name line, line 1 and line 2",
                self.name_line,
            )
        self.name = stripped[2:].strip() if stripped.startswith("0 ") else stripped
        self.name_line = lineno

    @staticmethod
    def _no_line2(l1: str, n1: int, got: str) -> InvalidRecord:
        return InvalidRecord(
            f"TLE line 1 is not followed by its line 2 (a line starting '2 '); {got} - each "
            "TLE needs both lines",
            n1,
            _norad_hint(l1[2:7]),
        )

    def end(self) -> None:
        """The text ended: report what was left unfinished and decode the last batch."""
        if self.line1 is not None:
            l1, n1, record = self.line1
            self.line1 = None
            self.name = None
            self._event(None, self._no_line2(l1, n1, "the text ends"), record)
        if self.name is not None:
            self.error(
                f"name line {self.name!r} at the end is not followed by a TLE; the text was "
                "cut short",
                self.name_line,
            )
        self.flush()

    def flush(self) -> None:
        """Decode the pending pairs (numpy path first) and hand every pending record over."""
        pairs, events, col = self.pairs, self.events, self.col
        self.pairs, self.events = [], []
        if not events:
            return
        verify = self.verify_checksum
        fast_ok, fast = tle_fast.decode(pairs, verify) if self.fast_path else (None, {})
        if pairs and fast_ok is not None and fast_ok.all() and len(events) == len(pairs):
            # the common case: every record is a valid standard TLE, in file order
            c = col.cols
            for key, attr in tle_fast.COLUMNS:
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
                    rec = parse_pair(l1, l2, n1, n2, verify)
                except InvalidRecord as exc:
                    col.bad(exc, record)
                    continue
            rec["name"] = pname or ""
            col.cols.add(rec, pline if pname is not None else n1, record)


def parse_tle_lines(
    lines: Iterable[str], col: Collector, verify_checksum: bool, fast_path: bool = True
) -> None:
    """Pair the lines into records and decode them (vectorised, see :func:`.tle_fast.decode`).

    ``lines`` are the lines of the text without their line breaks, in order (line numbers
    count from 1); they are consumed one at a time.
    """
    reader = _TleReader(col, verify_checksum, fast_path)
    for lineno, raw in enumerate(lines, 1):
        reader.feed(raw, lineno)
    reader.end()


# ---------------------------------------------------------------------- writer


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
    unit = NS_PER_DAY // 10**8  # 1e-8 day = 864000 ns
    units = (since * 2 + unit) // (2 * unit)
    years = year_start.astype(np.int64) + 1970
    out = []
    for year, u in zip(years.tolist(), units.tolist(), strict=True):
        doy, frac = divmod(u, 10**8)
        if doy >= (366 if is_leap(year) else 365):  # rounded into the next year
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


def _angle_360(x: float) -> float:
    y = math.fmod(x, 360.0)
    return y + 360.0 if y < 0 else y


def tle_line_pairs(es: ElementColumns) -> Iterator[tuple[str, str]]:
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


def format_tle(elements: ElementColumns, with_names: bool) -> str:
    """TLE text (3LE with ``with_names``): standard columns, checksums, Alpha-5 ids."""
    out: list[str] = []
    names = elements.names.tolist()
    ids = elements.norad_ids.tolist()
    for (l1, l2), name, norad in zip(tle_line_pairs(elements), names, ids, strict=True):
        if with_names:
            out.append(str(name or f"NORAD {norad}").ljust(NAME_MAX))
        out.append(l1)
        out.append(l2)
    return "\n".join(out) + ("\n" if out else "")
