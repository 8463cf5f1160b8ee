"""Which format a text is in, and the readers and writers that dispatch on it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from skyfence.errors import InputError, ParseError
from skyfence.files import write_text_atomic
from skyfence.orbits.formats.omm_csv import format_omm_csv, parse_omm_csv
from skyfence.orbits.formats.omm_json import format_omm_json, parse_omm_json
from skyfence.orbits.formats.omm_xml import format_omm_xml, parse_omm_xml
from skyfence.orbits.formats.records import Collector, ElementColumns, ParsedElements, finish
from skyfence.orbits.formats.source import HEAD_CHARS, TextSource
from skyfence.orbits.formats.tle import format_tle, is_line1, is_line2, parse_tle_lines

__all__ = [
    "FORMATS",
    "canonical_format",
    "detect_format",
    "parse_columns",
    "read_columns",
    "format_elements",
    "format_for_path",
    "write_elements",
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


def canonical_format(format: str) -> str:
    """The name in :data:`FORMATS` for ``format`` or one of its aliases (``json``, ``txt``...)."""
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
    if len(body) > HEAD_CHARS:  # the head is enough, and keeps this quick for any input
        body = body[:HEAD_CHARS]
        cut = max(body.rfind("\n"), body.rfind("\r"))
        if cut > 0:
            body = body[:cut]
    if not body.strip():
        raise ParseError(
            "the text is empty; expected element sets as TLE, 3LE, OMM JSON, OMM CSV or OMM XML",
            source=source,
        )
    head = [ln for ln in body.splitlines()[:4] if ln.strip()]
    if len(head) >= 3 and is_line1(head[1]) and is_line2(head[2]) and not is_line1(head[0]):
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
    has_l1 = any(is_line1(ln) for ln in lines[:200])
    has_l2 = any(is_line2(ln) for ln in lines[:200])
    if has_l1 or has_l2:
        for k, ln in enumerate(lines[:200]):
            if not (is_line1(ln) or is_line2(ln)) and k + 1 < len(lines) and is_line1(lines[k + 1]):
                return "3le"
        return "tle"
    first_line = body.split("\n", 1)[0].strip()[:40]
    raise ParseError(
        f"cannot tell the format (starts with {first_line!r}); understood formats: TLE and 3LE "
        "(lines starting '1 ' and '2 '), OMM JSON, OMM CSV (header with NORAD_CAT_ID), OMM XML "
        "(<ndm>); pass format= one of " + ", ".join(FORMATS),
        source=source,
    )


# ---------------------------------------------------------------------- readers


def _check_options(on_invalid: str, duplicates: str) -> None:
    if on_invalid not in ("raise", "skip"):
        raise InputError(f"on_invalid must be 'raise' or 'skip', got {on_invalid!r}")
    if duplicates not in ("newest", "keep"):
        raise InputError(f"duplicates must be 'newest' or 'keep', got {duplicates!r}")


def _read(
    src: TextSource, format: str | None, on_invalid: str, duplicates: str, verify_checksum: bool
) -> ParsedElements:
    """Detect the format from the head of ``src`` and read it all, a piece at a time."""
    try:
        fmt = canonical_format(format) if format is not None else None
        head = src.head()
        if fmt is None:
            fmt = detect_format(head, src.source)
        col = Collector(src.source, on_invalid)
        if fmt in ("tle", "3le"):
            parse_tle_lines(src.lines(), col, verify_checksum)
        elif fmt == "omm-json":
            parse_omm_json(src.blocks(), col)
        elif fmt == "omm-csv":
            parse_omm_csv(src.lines(), col)
        else:
            parse_omm_xml(src.blocks(), col)
    finally:
        src.close()
    return finish(col, fmt, duplicates)


def parse_columns(
    text: str | bytes,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    source: str = "<text>",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ParsedElements:
    """Parse element sets from text in any of :data:`FORMATS` into columns and a report.

    :func:`skyfence.orbits.elements.parse_elements` (and ``ElementSet.from_text``) documents
    the parameters and builds the ``ElementSet``.
    """
    _check_options(on_invalid, duplicates)
    return _read(TextSource(text, source), format, on_invalid, duplicates, verify_checksum)


def read_columns(
    path: str | Path,
    *,
    format: str | None = None,
    on_invalid: Literal["raise", "skip"] = "raise",
    duplicates: Literal["newest", "keep"] = "newest",
    verify_checksum: bool = True,
) -> ParsedElements:
    """Read an element-set file into columns and a report; see :func:`parse_columns`.

    The format is detected from the content (not the suffix) unless ``format`` is given.
    The file is read a block at a time: a bad record early in a large file is reported
    without reading the rest (with ``on_invalid="raise"``), and memory holds the records
    kept, not the file.
    """
    _check_options(on_invalid, duplicates)
    p = Path(path)
    return _read(TextSource(p, p.name, path=True), format, on_invalid, duplicates, verify_checksum)


# ---------------------------------------------------------------------- writers


def format_elements(elements: ElementColumns, format: str) -> str:
    """The text of ``elements`` (an ``ElementSet``) in one of :data:`FORMATS`.

    TLE fields have fixed precision (angles 1e-4 degrees, mean motion 1e-8 rev/day, epoch
    1e-8 day, 5 significant digits for BSTAR and the second derivative); OMM keeps every
    digit (floats are written in their shortest round-trip form, epochs to the microsecond,
    or to the nanosecond when needed). Angles are written in 0..360 for TLEs.
    """
    fmt = canonical_format(format)
    if fmt in ("tle", "3le"):
        return format_tle(elements, with_names=fmt == "3le")
    if fmt == "omm-json":
        return format_omm_json(elements)
    if fmt == "omm-csv":
        return format_omm_csv(elements)
    return format_omm_xml(elements)


def format_for_path(path: str | Path) -> str:
    """The format :func:`write_elements` picks for ``path`` from its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"cannot tell the format from the suffix {suffix or '(none)'!r} of {str(path)!r}; "
            f"use one of {', '.join(_SUFFIXES)} or pass format= one of {', '.join(FORMATS)}"
        )
    return _SUFFIXES[suffix]


def write_elements(
    elements: ElementColumns, path: str | Path, *, format: str | None = None
) -> Path:
    """Write ``elements`` to ``path`` atomically (a temporary file, then a rename).

    The format comes from the suffix (``.tle``/``.txt`` TLE, ``.3le`` 3LE, ``.json``,
    ``.csv``, ``.xml`` OMM) unless ``format`` is given. Returns the path written.
    """
    p = Path(path)
    fmt = canonical_format(format) if format is not None else format_for_path(p)
    text = format_elements(elements, fmt)
    write_text_atomic(p, text)
    return p
