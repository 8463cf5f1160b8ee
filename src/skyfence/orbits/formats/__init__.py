"""Read and write element sets: TLE, 3LE, CCSDS OMM as JSON, CSV and XML.

Readers detect the format from the content, validate every record (TLE checksums, line
numbers, column layout, catalogue numbers, field syntax, OMM keys) and either raise a
:class:`~skyfence.errors.ParseError` naming the source, line and reason
(``on_invalid="raise"``) or leave the bad record out and say so in a :class:`ParseReport`
(``on_invalid="skip"``). Duplicate NORAD ids are resolved to the newest epoch and counted in
the report. Writers produce the standard layouts (TLE columns with checksums and Alpha-5 ids;
OMM with CelesTrak's keys) and write files atomically.

The readers return columns (:class:`ParsedElements`); :class:`~skyfence.orbits.elements.ElementSet`
(``ElementSet.from_file``, ``from_text``) and :func:`skyfence.orbits.elements.parse_elements`
build the element set from them. The writers take an ``ElementSet``.

Modules, one per format: :mod:`.tle` (TLE and 3LE; :mod:`.tle_fast` decodes the standard
layout with numpy), :mod:`.omm` (OMM records in any encoding), :mod:`.omm_json`,
:mod:`.omm_csv`, :mod:`.omm_xml`; :mod:`.dispatch` detects the format and calls them;
:mod:`.records` and :mod:`.fields` hold what they share.

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
>>> from skyfence.orbits import ElementSet
>>> text = '''STARLINK-1008
... 1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998
... 2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616'''
>>> elements = ElementSet.from_text(text)
>>> elements.names[0], int(elements.norad_ids[0]), detect_format(text)
('STARLINK-1008', 44714, '3le')
>>> print(format_elements(elements, "tle"), end="")
1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998
2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616
"""

from skyfence.orbits.formats.dispatch import (
    FORMATS,
    canonical_format,
    detect_format,
    format_elements,
    format_for_path,
    parse_columns,
    read_columns,
    write_elements,
)
from skyfence.orbits.formats.omm import OMM_KEYS
from skyfence.orbits.formats.records import (
    SKIP_HINT,
    ElementColumns,
    ParsedElements,
    ParseReport,
    SkippedRecord,
)
from skyfence.orbits.formats.tle import from_alpha5, tle_checksum, to_alpha5

__all__ = [
    "FORMATS",
    "OMM_KEYS",
    "ParseReport",
    "ParsedElements",
    "SkippedRecord",
    "SKIP_HINT",
    "ElementColumns",
    "canonical_format",
    "detect_format",
    "parse_columns",
    "read_columns",
    "format_elements",
    "format_for_path",
    "write_elements",
    "tle_checksum",
    "to_alpha5",
    "from_alpha5",
]
