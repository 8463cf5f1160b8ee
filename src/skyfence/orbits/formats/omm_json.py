"""OMM as JSON, the way CelesTrak serves it: a list of objects with CCSDS keys, or one object.

The reader is incremental: it decodes one object of the top-level list at a time from the
text as it arrives (``json.JSONDecoder.raw_decode`` on a rolling buffer), so a bad record or
a syntax error early in a large file is reported without reading the rest, and memory holds
one record, not the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from skyfence.errors import ParseError
from skyfence.orbits.formats.omm import MAX_NUMBER_CHARS, omm_dicts, parse_omm_records
from skyfence.orbits.formats.records import Collector, ElementColumns

__all__ = ["MAX_VALUE_CHARS", "parse_omm_json", "format_omm_json"]

MAX_VALUE_CHARS = 1 << 20
"""Longest JSON value (one OMM record) the reader accepts; a CelesTrak record is ~600."""

_WS = re.compile(r"[ \t\n\r]*")


def _json_int(text: str) -> int | str:
    # Python refuses to convert integers of more than 4,300 digits (a ValueError out of
    # json); the record check reports an over-long number as text instead
    return int(text) if len(text) <= MAX_NUMBER_CHARS else text


_DECODER = json.JSONDecoder(parse_int=_json_int)


class _Stream:
    """A rolling buffer over the text blocks; positions and errors as in the whole text."""

    def __init__(self, blocks: Iterable[str], source: str) -> None:
        self.blocks = iter(blocks)
        self.source = source
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line_base = 1  # line of buf[0] in the text
        self.col_base = 0  # characters before buf[0] on its line

    def more(self) -> bool:
        """Append the next block (dropping what was consumed); False at the end."""
        block = next(self.blocks, None)
        if block is None:
            self.eof = True
            return False
        if self.pos:
            done = self.buf[: self.pos]
            newlines = done.count("\n")
            if newlines:
                self.line_base += newlines
                self.col_base = len(done) - done.rfind("\n") - 1
            else:
                self.col_base += len(done)
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += block
        return True

    def peek(self) -> str | None:
        """The next character that is not white space (None at the end); skips to it."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return None

    def fail(self, msg: str) -> ParseError:
        """A ParseError for ``msg`` at the current position, in json's words."""
        return self.error(json.JSONDecodeError(msg, self.buf, self.pos))

    def error(self, exc: json.JSONDecodeError) -> ParseError:
        line = self.line_base + exc.lineno - 1
        column = exc.colno + (self.col_base if exc.lineno == 1 else 0)
        return ParseError(
            f"not valid JSON ({exc.msg} at column {column}); expected OMM JSON: a list of "
            "objects with CCSDS keys such as OBJECT_NAME, EPOCH, MEAN_MOTION",
            source=self.source,
            line=line,
        )

    def value(self) -> Any:
        """Decode the JSON value at the current position, reading more text as needed."""
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # a value cut by the end of the buffer fails at its end (or, for a string,
                # at its start); an error well before the end is an error in the text
                cut = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated")
                if cut and not self.eof and len(self.buf) - self.pos <= MAX_VALUE_CHARS:
                    self.more()  # the value may go on in the next block
                    continue
                if cut and not self.eof:
                    raise ParseError(
                        f"a JSON value is longer than {MAX_VALUE_CHARS:,} characters or "
                        f"malformed ({exc.msg}); an OMM record is a small object of CCSDS keys",
                        source=self.source,
                        line=self.line_base + exc.lineno - 1,
                    ) from None
                raise self.error(exc) from None
            except RecursionError:
                raise ParseError(
                    "JSON is nested too deeply to be OMM", source=self.source
                ) from None
            if end == len(self.buf) and not self.eof and self.more():
                continue  # a number at the end of the buffer may go on in the next block
            self.pos = end
            return obj


def _items(stream: _Stream) -> Iterator[tuple[int | None, Any]]:
    """The records: the items of the top-level list, or the one top-level object."""
    first = stream.peek()
    if first != "[":
        data = stream.value()
        if stream.peek() is not None:
            raise stream.fail("Extra data")
        if not isinstance(data, dict):
            raise ParseError(
                f"OMM JSON must be a list of objects or one object, not a {type(data).__name__}",
                source=stream.source,
            )
        yield None, data
        return
    stream.pos += 1
    if stream.peek() == "]":
        stream.pos += 1
    else:
        while True:
            yield None, stream.value()
            nxt = stream.peek()
            if nxt == ",":
                stream.pos += 1
                if stream.peek() == "]":
                    raise stream.fail("Illegal trailing comma before end of array")
                continue
            if nxt == "]":
                stream.pos += 1
                break
            raise stream.fail("Expecting ',' delimiter")
    if stream.peek() is not None:
        raise stream.fail("Extra data")


def parse_omm_json(blocks: Iterable[str], col: Collector) -> None:
    """Read every record of an OMM JSON document (given as blocks of text) into ``col``."""
    parse_omm_records(_items(_Stream(blocks, col.source)), col)


def format_omm_json(elements: ElementColumns) -> str:
    """A compact JSON list of OMM objects (floats in their shortest round-trip form)."""
    return json.dumps(omm_dicts(elements), indent=None, separators=(",", ":")) + "\n"
