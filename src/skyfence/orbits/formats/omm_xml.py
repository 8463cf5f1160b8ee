"""OMM as CCSDS NDM/OMM XML (``<ndm><omm>...<segment><metadata/><data/></segment></omm></ndm>``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
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


def parse_omm_xml(text: str, col: Collector) -> None:
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

    parse_omm_records(records(), col)


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
