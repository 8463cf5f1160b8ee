"""Bounded JSON reading, shared by the GeoJSON loader and the policy loader.

``json.loads`` recurses once per nesting level and gives up with a ``RecursionError`` deep
down; a 100,000-deep ``[[[[...`` reaches it. :func:`nesting_depth` measures the depth first,
with numpy over the text (strings blanked out), so too-deep input is refused with a
:class:`~skyfence.errors.ParseError` naming the line before anything recurses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from skyfence.errors import ParseError

__all__ = ["nesting_depth", "loads_bounded", "line_of"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def line_of(text: str, position: int) -> int:
    """1-based line of character ``position`` in ``text``."""
    return text.count("\n", 0, max(position, 0)) + 1


def nesting_depth(text: str, limit: int) -> tuple[int, int]:
    """The deepest ``[``/``{`` nesting of JSON text, and where it first exceeds ``limit``.

    Returns ``(depth, position)``; ``position`` is -1 when ``depth <= limit``. Brackets inside
    strings do not count.

    Examples
    --------
    >>> nesting_depth('{"a": [[1], "]]]"]}', 10)
    (3, -1)
    """
    blanked = _STRING.sub(lambda m: " " * len(m.group(0)), text)
    codes = np.frombuffer(blanked.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    step = (
        (codes == ord("[")).astype(np.int32)
        + (codes == ord("{"))
        - (codes == ord("]"))
        - (codes == ord("}"))
    )
    depth = np.cumsum(step)
    deepest = int(depth.max()) if depth.size else 0
    if deepest <= limit:
        return deepest, -1
    return deepest, int(np.argmax(depth > limit))


def loads_bounded(
    text: str,
    *,
    source: str,
    max_depth: int,
    what: str = "JSON",
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """``json.loads`` that raises only :class:`~skyfence.errors.ParseError` (with the line).

    Refuses nesting deeper than ``max_depth`` before parsing; numbers with more digits than
    Python converts, and anything else ``json`` rejects, are parse errors too.
    """
    deepest, where = nesting_depth(text, max_depth)
    if where >= 0:
        raise ParseError(
            f"invalid {what}: lists and objects are nested {deepest} deep; at most "
            f"{max_depth} levels are read",
            source=source,
            line=line_of(text, where),
        )
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid {what}: {exc.msg}", source=source, line=exc.lineno) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of 5,000 digits
        raise ParseError(f"invalid {what}: {exc}", source=source) from None
