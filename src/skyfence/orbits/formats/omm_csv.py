"""OMM as CSV: CelesTrak's keys as the header row, one row per satellite."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from skyfence.errors import ParseError
from skyfence.orbits.formats.omm import (
    OMM_KEYS,
    OMM_REQUIRED,
    RowError,
    omm_dicts,
    parse_omm_records,
)
from skyfence.orbits.formats.records import Collector, ElementColumns

__all__ = ["parse_omm_csv", "format_omm_csv"]


def parse_omm_csv(lines: Iterable[str], col: Collector) -> None:
    """Read every row of an OMM CSV document (given line by line) into ``col``."""
    reader = csv.reader(line + "\n" for line in lines)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            raise ParseError("the CSV has no header row", source=col.source, line=1)
        header = [h.strip().lstrip("\ufeff").upper() for h in header]
        missing = [k for k in OMM_REQUIRED if k not in header]
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
                        RowError(
                            f"the row has {len(row)} fields but the header has {len(header)}; a "
                            "field is missing or holds an unquoted comma"
                        ),
                    )
                    continue
                yield reader.line_num, dict(zip(header, row, strict=True))

        parse_omm_records(rows(), col)
    except csv.Error as exc:
        raise ParseError(
            f"the CSV is malformed ({exc}); expected OMM CSV with a header row",
            source=col.source,
            line=reader.line_num,
        ) from None


def format_omm_csv(elements: ElementColumns) -> str:
    """OMM CSV with CelesTrak's header (floats in their shortest round-trip form)."""
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(OMM_KEYS), lineterminator="\r\n")
    writer.writeheader()
    for rec in omm_dicts(elements):
        writer.writerow({k: repr(v) if isinstance(v, float) else v for k, v in rec.items()})
    return buf.getvalue()
