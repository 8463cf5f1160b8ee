"""OMM as JSON, the way CelesTrak serves it: a list of objects with CCSDS keys, or one object."""

from __future__ import annotations

import json

from skyfence.errors import ParseError
from skyfence.orbits.formats.omm import omm_dicts, parse_omm_records
from skyfence.orbits.formats.records import Collector, ElementColumns

__all__ = ["parse_omm_json", "format_omm_json"]


def parse_omm_json(text: str, col: Collector) -> None:
    """Read every record of an OMM JSON document into ``col``."""
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
    parse_omm_records(((None, item) for item in data), col)


def format_omm_json(elements: ElementColumns) -> str:
    """A compact JSON list of OMM objects (floats in their shortest round-trip form)."""
    return json.dumps(omm_dicts(elements), indent=None, separators=(",", ":")) + "\n"
