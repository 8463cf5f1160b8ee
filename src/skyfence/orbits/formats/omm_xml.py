"""OMM as CCSDS NDM/OMM XML (``<ndm><omm>...<segment><metadata/><data/></segment></omm></ndm>``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from skyfence.errors import ParseError
from skyfence.orbits.formats.omm import omm_dicts, parse_omm_records
from skyfence.orbits.formats.records import Collector, ElementColumns

__all__ = ["parse_omm_xml", "format_omm_xml"]

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


_DTD_RE = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_DTD_OVERLAP = 32  # characters kept from the previous block so the check spans the boundary
_FEED_CHARS = 1 << 14  # the parser builds every element of what it is fed before we look


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _segment_fields(seg: ET.Element) -> dict[str, Any]:
    """The CCSDS keys of one ``<segment>``: the children of ``<metadata>`` and of the groups
    in ``<data>`` (``<meanElements>``, ``<tleParameters>``...)."""
    fields: dict[str, Any] = {}
    for part in seg:
        tag = _local(part.tag)
        groups = [part] if tag == "metadata" else list(part) if tag == "data" else []
        for group in groups:
            for e in group:
                fields[_local(e.tag)] = (e.text or "").strip()
    return fields


MAX_DEPTH = 32
"""Deepest element nesting accepted (an OMM segment field is 6 deep)."""

MAX_SEGMENT_ELEMENTS = 1000
"""Most elements in one ``<segment>`` (CelesTrak's have 25)."""


def _segments(blocks: Iterable[str], source: str) -> Iterator[tuple[int | None, Any]]:
    """The fields of each ``<segment>`` as soon as it is complete, from blocks of XML text.

    Each block is checked for DOCTYPE/ENTITY declarations before the parser sees it (so
    entity expansion bombs and external entities never reach it). Finished elements outside
    a segment are dropped from the tree, and nesting and segment size are bounded, so
    memory holds about one record whatever the document.
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    open_elements: list[ET.Element] = []
    segment_at: int | None = None  # depth of the open <segment>
    segment_size = 0
    found = 0
    root_tag = ""
    tail = ""

    def events() -> Iterator[tuple[int | None, Any]]:
        nonlocal segment_at, segment_size, found, root_tag
        for event, elem in parser.read_events():
            if event == "start":
                if not open_elements:
                    root_tag = _local(elem.tag)
                open_elements.append(elem)
                if len(open_elements) > MAX_DEPTH:
                    raise ParseError(
                        f"XML nested more than {MAX_DEPTH} deep; OMM XML is 6 deep",
                        source=source,
                    )
                if segment_at is not None:
                    segment_size += 1
                    if segment_size > MAX_SEGMENT_ELEMENTS:
                        raise ParseError(
                            f"a <segment> with more than {MAX_SEGMENT_ELEMENTS} elements; "
                            "an OMM segment holds about 25",
                            source=source,
                        )
                elif _local(elem.tag) == "segment":
                    segment_at, segment_size = len(open_elements), 0
                continue
            depth = len(open_elements)
            open_elements.pop()
            if depth == segment_at:
                segment_at = None
                found += 1
                yield None, _segment_fields(elem)
            if segment_at is None and open_elements:  # finished: drop it from its parent
                open_elements[-1].remove(elem)

    try:
        for block in blocks:
            if _DTD_RE.search(tail + block):
                raise ParseError(
                    "XML with a DOCTYPE or ENTITY declaration is refused (OMM XML needs "
                    "neither, and entities can expand without bound)",
                    source=source,
                )
            tail = block[-_DTD_OVERLAP:]
            for at in range(0, len(block), _FEED_CHARS):  # small pieces: checks run often
                parser.feed(block[at : at + _FEED_CHARS])
                yield from events()
        parser.close()
        yield from events()
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise ParseError(
            f"not well-formed XML ({exc}); expected CCSDS OMM XML (<ndm><omm>...)",
            source=source,
            line=line,
        ) from None
    if not found:
        raise ParseError(
            f"no <segment> elements in the <{root_tag}> document; expected CCSDS OMM XML as "
            "CelesTrak serves it (<ndm><omm><body><segment>...)",
            source=source,
        )


def parse_omm_xml(blocks: Iterable[str], col: Collector) -> None:
    """Read every segment of an OMM XML document (given as blocks of text) into ``col``."""
    parse_omm_records(_segments(blocks, col.source), col)


def format_omm_xml(es: ElementColumns) -> str:
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

    for rec in omm_dicts(es):
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
