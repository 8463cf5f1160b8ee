"""CCSDS OMM records, whatever the encoding (JSON, CSV, XML): keys, validation, writing.

The JSON, CSV and XML readers turn each record into a dict of CCSDS keys (values as JSON
numbers or as text) and hand it to :func:`parse_omm_records`; the writers start from
:func:`omm_dicts`.
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.orbits.formats.fields import (
    MAX_ABS_EXP_FIELD,
    MAX_ABS_MEAN_MOTION_DOT,
    NS_PER_DAY,
    NUMBER_RE,
    SGP4XP,
    below_surface,
    days_from_civil,
    inside_earth_reason,
    is_leap,
    year_start_days,
)
from skyfence.orbits.formats.records import Collector, ElementColumns, InvalidRecord

__all__ = [
    "OMM_KEYS",
    "OMM_REQUIRED",
    "MAX_NORAD_ID",
    "MAX_NUMBER_CHARS",
    "RowError",
    "parse_omm_records",
    "omm_dicts",
]

MAX_NORAD_ID = 999_999_999
"""Largest NORAD_CAT_ID read from an OMM: nine digits, the catalogue's planned extension."""

MAX_NUMBER_CHARS = 40
"""Longest number (as text) an OMM field may hold; a float needs 25 characters at most."""


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
OMM_REQUIRED = (
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


@dataclass
class RowError:
    """A record a reader could not even split into keys (e.g. a CSV row of the wrong width)."""

    reason: str


_OMM_EPOCH_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$", re.ASCII
)
_OMM_EPOCH_DOY_RE = re.compile(
    r"^(\d{4})-(\d{3})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$", re.ASCII
)
_EPOCH_FIRST_YEAR, _EPOCH_LAST_YEAR = 1957, 2200  # well inside datetime64[ns] (1678-2261)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 3, 40, 40, 4, 4


def _show(value: Any) -> str:
    """A short, safe rendering of a field value for messages (any JSON value, any size)."""
    if isinstance(value, str) and len(value) > 40:
        return f"{value[:30]!r}... ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        return "a number of more than 40 digits"
    return _REPR.repr(value)


def _text(fields: dict[str, Any], key: str, default: str = "") -> str:
    """A text field (names, designators, codes); numbers are taken as their text."""
    value = fields.get(key)
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise InvalidRecord(f"{key} is {_show(value)}; expected text", None)


def _omm_epoch_ns(value: Any) -> int:
    if not isinstance(value, str):
        raise InvalidRecord(
            f"EPOCH is {_show(value)}; expected an ISO 8601 UTC date-time as text like "
            "2026-02-22T22:52:52.307616",
            None,
        )
    text = value.strip()
    m = _OMM_EPOCH_RE.match(text)
    if m is not None:
        y, mo, d, hh, mm, ss, frac = m.groups()
        day_start = None
        year, month, day = int(y), int(mo), int(d)
        mdays = (31, 29 if is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
        if 1 <= month <= 12 and 1 <= day <= mdays[month - 1]:
            day_start = days_from_civil(year, month, day)
    else:
        m = _OMM_EPOCH_DOY_RE.match(text)
        day_start = None
        if m is not None:
            y, doy, hh, mm, ss, frac = m.groups()
            year = int(y)
            if 1 <= int(doy) <= (366 if is_leap(year) else 365):
                day_start = year_start_days(year) + int(doy) - 1
    if m is None or day_start is None or int(hh) > 23 or int(mm) > 59 or int(ss) > 60:
        raise InvalidRecord(
            f"EPOCH {_show(text)} is not a UTC date-time; expected ISO 8601 like "
            "2026-02-22T22:52:52.307616",
            None,
        )
    if not _EPOCH_FIRST_YEAR <= year <= _EPOCH_LAST_YEAR:
        raise InvalidRecord(
            f"EPOCH {text!r} is before the space age or after {_EPOCH_LAST_YEAR}; expected a "
            f"year {_EPOCH_FIRST_YEAR}..{_EPOCH_LAST_YEAR}",
            None,
        )
    ns = (int(hh) * 3600 + int(mm) * 60 + int(ss)) * 10**9
    if frac:
        ns += int(frac.ljust(9, "0"))
    return day_start * NS_PER_DAY + ns


def _omm_number(
    fields: dict[str, Any], key: str, *, integer: bool = False, maximum: int = 999_999_999
) -> Any:
    """A number from an OMM field given as a JSON number or as text (ASCII digits only).

    ``integer``: a whole number in ``0..maximum``.
    """
    value = fields.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRecord(f"{key} is {_show(value)}; expected a number", None)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_NUMBER_CHARS:
            raise InvalidRecord(
                f"{key} is {len(text):,} characters long; expected a number (at most "
                f"{MAX_NUMBER_CHARS} characters)",
                None,
            )
        if not NUMBER_RE.match(text):
            what = "an empty value" if not text else repr(text)
            raise InvalidRecord(f"{key} is {what}; expected a number (ASCII digits)", None)
        x: float = float(text)
    else:
        x = float(value) if not isinstance(value, int) or abs(value) < 2**53 else math.inf
    if not math.isfinite(x):
        raise InvalidRecord(f"{key} is {_show(value)}; expected a finite number", None)
    if integer:
        if x != int(x) or not 0 <= x <= maximum:
            raise InvalidRecord(
                f"{key} is {_show(value)}; expected a whole number 0..{maximum}", None
            )
        return int(x)
    return x


def _omm_record(fields: Any) -> dict[str, Any]:
    """Validate and decode one OMM record (a dict of CCSDS keys)."""
    if isinstance(fields, RowError):  # a CSV row the reader could not split
        raise InvalidRecord(fields.reason, None)
    if not isinstance(fields, dict):
        raise InvalidRecord(
            f"an OMM record must be an object of CCSDS keys, got {type(fields).__name__}", None
        )
    norad: int | None = None
    norad_error = ""
    try:
        norad = _omm_number(fields, "NORAD_CAT_ID", integer=True, maximum=MAX_NORAD_ID)
    except InvalidRecord as exc:
        norad_error = exc.reason
        norad = None
    missing = [
        k
        for k in OMM_REQUIRED
        if fields.get(k) is None or (isinstance(fields.get(k), str) and not fields[k].strip())
    ]
    if missing:
        raise InvalidRecord(
            f"missing OMM key{'s' if len(missing) > 1 else ''} {', '.join(missing)}; an OMM for "
            f"SGP4 needs {', '.join(OMM_REQUIRED)}",
            None,
            norad,
        )
    try:
        theory = _text(fields, "MEAN_ELEMENT_THEORY")
        if theory.upper() not in ("SGP4", "SGP/SGP4", ""):
            raise InvalidRecord(
                f"MEAN_ELEMENT_THEORY is {_show(theory)}; only SGP4 mean elements can be used "
                "(SGP4-XP and other theories are not compatible with SGP4)",
                None,
            )
        ephtype = 0
        if fields.get("EPHEMERIS_TYPE") not in (None, ""):
            ephtype = _omm_number(fields, "EPHEMERIS_TYPE", integer=True)
        if ephtype == 4:
            raise InvalidRecord(SGP4XP, None)
        if ephtype not in (0, 1, 2, 3):
            raise InvalidRecord(f"EPHEMERIS_TYPE is {ephtype}; expected 0 (SGP4)", None)
        if norad is None:
            raise InvalidRecord(norad_error, None)
        rec = {
            "norad": norad,
            "name": _text(fields, "OBJECT_NAME"),
            "intl": _text(fields, "OBJECT_ID"),
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
            "cls": _text(fields, "CLASSIFICATION_TYPE") or "U",
            "elnum": 0,
            "rev": 0,
        }
        if fields.get("ELEMENT_SET_NO") not in (None, ""):
            rec["elnum"] = _omm_number(fields, "ELEMENT_SET_NO", integer=True)
        if fields.get("REV_AT_EPOCH") not in (None, ""):
            rec["rev"] = _omm_number(fields, "REV_AT_EPOCH", integer=True)
    except InvalidRecord as exc:
        exc.norad_id = norad
        raise
    reason = _range_error(rec)
    if reason is not None:
        raise InvalidRecord(reason, None, norad)
    return rec


def _range_error(rec: dict[str, Any]) -> str | None:
    """Why a decoded record's values are out of range (the TLE reader's ranges), or None."""
    if rec["cls"] not in ("U", "C", "S"):
        return f"CLASSIFICATION_TYPE is {_show(rec['cls'])}; expected U, C or S"
    if not rec["n"] > 0:
        return f"MEAN_MOTION is {rec['n']}; it must be > 0 rev/day"
    if rec["n"] < 1e-8:  # subnormal values: an orbit with no finite size
        return (
            f"MEAN_MOTION is {rec['n']}; it must be at least 1e-08 rev/day (the smallest a TLE "
            "can hold)"
        )
    if not 0.0 <= rec["ecc"] < 1.0:
        return f"ECCENTRICITY is {rec['ecc']}; it must be in 0 <= e < 1"
    if not 0.0 <= rec["inc"] <= 180.0:
        return f"INCLINATION is {rec['inc']}; it must be in 0..180 degrees"
    for key, field in (("RA_OF_ASC_NODE", "raan"), ("ARG_OF_PERICENTER", "argp")):
        if not 0.0 <= rec[field] <= 360.0:
            return f"{key} is {rec[field]}; it must be in 0..360 degrees"
    if not 0.0 <= rec["ma"] <= 360.0:
        return f"MEAN_ANOMALY is {rec['ma']}; it must be in 0..360 degrees"
    if below_surface(rec["n"], rec["ecc"], rec["inc"]):
        return inside_earth_reason("MEAN_MOTION", rec["n"])
    for key, field in (("BSTAR", "bstar"), ("MEAN_MOTION_DDOT", "nddot")):
        if not abs(rec[field]) < MAX_ABS_EXP_FIELD:
            return (
                f"{key} is {rec[field]!r}; it must be within ±{MAX_ABS_EXP_FIELD:g} (what a "
                "TLE can hold; real values are far smaller)"
            )
    if not abs(rec["ndot"]) < MAX_ABS_MEAN_MOTION_DOT:
        return (
            f"MEAN_MOTION_DOT is {rec['ndot']!r} rev/day²; it must be within "
            f"±{MAX_ABS_MEAN_MOTION_DOT:g} (what a TLE can hold)"
        )
    return None


def _label(rec_no: int, fields: Any) -> str:
    name = fields.get("OBJECT_NAME") if isinstance(fields, dict) else None
    if isinstance(name, int | float) and not isinstance(name, bool):
        name = str(name)
    if not isinstance(name, str) or not name.strip():
        return f"record {rec_no}"
    name = name.strip()
    shown = name if name.isprintable() and len(name) <= 40 else _show(name)
    return f"record {rec_no} ({shown})"


def parse_omm_records(records: Iterable[tuple[int | None, Any]], col: Collector) -> None:
    for line, fields in records:
        col.count += 1
        try:
            rec = _omm_record(fields)
        except InvalidRecord as exc:
            exc.line = line
            if line is None:
                exc.reason = f"{_label(col.count, fields)}: {exc.reason}"
            col.bad(exc, col.count)
        else:
            col.cols.add(rec, line, col.count)


def _omm_intl(designator: str) -> str:
    d = designator.strip()
    m = re.fullmatch(r"(\d{2})(\d{3})([A-Z]{1,3})", d)
    if m:
        yy = int(m.group(1))
        return f"{1900 + yy if yy >= 57 else 2000 + yy}-{m.group(2)}{m.group(3)}"
    return d


def _omm_epoch_texts(epochs: np.ndarray) -> list[str]:
    """ISO epochs to the microsecond (CelesTrak's form), or to the ns when that is needed."""
    ns = np.asarray(epochs, dtype="datetime64[ns]")
    us = np.datetime_as_string(ns.astype("datetime64[us]"), unit="us").tolist()
    exact = (ns.astype(np.int64) % 1000 == 0).tolist()
    if all(exact):
        return us
    full = np.datetime_as_string(ns, unit="ns").tolist()
    return [a if ok else b for a, b, ok in zip(us, full, exact, strict=True)]


def omm_dicts(es: ElementColumns) -> list[dict[str, Any]]:
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
