"""Text read a piece at a time from a file, bytes or a string, in lines of bounded length.

Readers never hold the whole input: a file is read in blocks of :data:`BLOCK_BYTES`,
decoded incrementally as UTF-8 and split into lines (the same line breaks as
:meth:`str.splitlines`), so a reader that meets a bad record early stops early, and a huge
file of garbage costs one block, not its size in memory. Bytes that are not UTF-8, NUL
characters (a binary or compressed file) and lines longer than :data:`MAX_LINE_CHARS` raise
:class:`~skyfence.errors.ParseError` with the line where they are.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from skyfence.errors import InputError, NotFoundError, ParseError

__all__ = ["BLOCK_BYTES", "HEAD_CHARS", "MAX_LINE_CHARS", "TextSource"]

BLOCK_BYTES = 1 << 20
"""Bytes read (or characters taken from a string) at a time."""

HEAD_CHARS = 1 << 16
"""Characters format detection looks at."""

MAX_LINE_CHARS = 1 << 16
"""Longest line a line-based reader (TLE, CSV) accepts; element-set lines are ~70-400."""


_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits at


def _line_of(text: str, at: int) -> int:
    """1-based line (as str.splitlines counts) of position ``at`` in ``text``."""
    parts = text[:at].splitlines(keepends=True)
    if not parts:
        return 1
    return len(parts) + (parts[-1] != parts[-1].rstrip(_BREAKS))


class TextSource:
    """The text of a file, ``bytes`` or ``str``, read block by block.

    Use :meth:`head` for format detection, then exactly one of :meth:`lines` or
    :meth:`blocks`, once. A leading byte-order mark is dropped.

    Parameters
    ----------
    data : str, bytes or path
        The content, or the path of a file holding it (``path=True``).
    source : str
        Name for messages.
    path : bool
        ``data`` is a file path.
    """

    def __init__(self, data: str | bytes | Path, source: str, *, path: bool = False) -> None:
        self.source = source
        self._text: str | None = None
        self._fh: BinaryIO | None = None
        if path:
            p = Path(data)  # type: ignore[arg-type]
            try:
                self._fh = open(p, "rb")  # noqa: SIM115 - closed by close()
            except FileNotFoundError:
                raise NotFoundError(f"element-set file {str(p)!r} does not exist") from None
            except IsADirectoryError:
                raise InputError(f"{str(p)!r} is a directory; give an element-set file") from None
        elif isinstance(data, bytes | bytearray | memoryview):
            self._fh = io.BytesIO(bytes(data))
        else:
            self._text = str(data)
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._bytes_read = 0
        self._eof = False
        self._pending: list[str] = []  # decoded blocks read ahead (by head())
        self._first = True
        self._text_at = 0
        self.lines_done = 0  # lines handed out by lines() (or passed by blocks())

    # ------------------------------------------------------------------ raw blocks
    def _read_block(self) -> str | None:
        """The next decoded block, or None at the end."""
        if self._pending:
            return self._pending.pop(0)
        if self._eof:
            return None
        if self._text is not None:
            text = self._text[self._text_at : self._text_at + BLOCK_BYTES]
            self._text_at += len(text)
            if not text:
                self._eof = True
                return None
            block = text
        else:
            assert self._fh is not None
            raw = self._fh.read(BLOCK_BYTES)
            final = len(raw) < BLOCK_BYTES
            pending = len(self._decoder.getstate()[0])
            try:
                block = self._decoder.decode(raw, final=final)
            except UnicodeDecodeError as exc:
                at = self._bytes_read - pending + exc.start
                raise ParseError(
                    f"the content is not UTF-8 text (byte {at}); element sets are plain text, "
                    "JSON, CSV or XML",
                    source=self.source,
                ) from None
            self._bytes_read += len(raw)
            if final:
                self._eof = True
            if not block and final:
                return None
        if self._first:
            self._first = False
            block = block.lstrip("\ufeff")
        return block

    def _nul(self, line: int) -> None:
        raise ParseError(
            "the content contains NUL bytes; element sets are plain text - is this a binary "
            "or compressed file?",
            source=self.source,
            line=line,
        )

    def head(self) -> str:
        """The first :data:`HEAD_CHARS` characters or so (whole blocks), for detection."""
        text = ""
        while len(text) < HEAD_CHARS:
            block = self._read_block()
            if block is None:
                break
            self._pending.append(block)
            text += block
        if "\x00" in text:
            self._nul(_line_of(text, text.index("\x00")))
        return text

    def blocks(self) -> Iterator[str]:
        """The text, block by block (for JSON and XML, which count lines by "\\n")."""
        newlines = 0
        try:
            while (block := self._read_block()) is not None:
                if "\x00" in block:
                    self._nul(newlines + block.count("\n", 0, block.index("\x00")) + 1)
                newlines += block.count("\n")
                yield block
        finally:
            self.close()

    def lines(self) -> Iterator[str]:
        """The lines without their line breaks; :attr:`lines_done` counts them.

        Raises ParseError at a line longer than :data:`MAX_LINE_CHARS` or holding a NUL
        character, after the lines before it.
        """
        carry = ""
        try:
            while True:
                block = self._read_block()
                if block is None:
                    parts = [carry.rstrip("\r")] if carry else []
                else:
                    text = carry + block
                    if not text:
                        continue
                    parts = text.splitlines()
                    carry = ""
                    last = text[-1]
                    if last == "\r":  # its "\n" may start the next block
                        carry = parts.pop() + "\r"
                    elif last not in _BREAKS and parts:  # an unfinished line
                        carry = parts.pop()
                bad = None
                if parts and max(map(len, parts)) > MAX_LINE_CHARS:
                    bad = next(k for k, part in enumerate(parts) if len(part) > MAX_LINE_CHARS)
                nul = (
                    next((k for k, part in enumerate(parts) if "\x00" in part), None)
                    if (block is None or "\x00" in text)
                    else None
                )
                first = min(k for k in (bad, nul, len(parts)) if k is not None)
                yield from parts[:first] if first < len(parts) else parts
                self.lines_done += first
                if first == nul:
                    self._nul(self.lines_done + 1)
                if first == bad:
                    self._too_long(self.lines_done + 1)
                if len(carry) > MAX_LINE_CHARS:
                    self._too_long(self.lines_done + 1)
                if block is None:
                    return
        finally:
            self.close()

    def _too_long(self, line: int) -> None:
        raise ParseError(
            f"the line is longer than {MAX_LINE_CHARS:,} characters; element-set lines are "
            "short (69 columns for a TLE) - is this the right file, or a different format?",
            source=self.source,
            line=line,
        )

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
