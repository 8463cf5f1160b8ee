"""JSON bodies on the hot routes: orjson when it is installed (the ``fast`` extra), else the
standard library, with the same output (compact, UTF-8) for every body these routes build
(none holds a NaN or an infinity: orjson would write ``null``, the standard library refuses)."""

from __future__ import annotations

import importlib
import json
from typing import Any

__all__ = ["dumps", "loads", "JSONDecodeError"]

_orjson: Any
try:  # imported by name: the type checker runs with and without the fast extra
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

JSONDecodeError: tuple[type[Exception], ...] = (
    (ValueError,) if _orjson is None else (ValueError, _orjson.JSONDecodeError)
)


def dumps(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON."""
    if _orjson is not None:
        out: bytes = _orjson.dumps(obj)
        return out
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def loads(body: bytes) -> Any:
    """The value of a JSON document (:data:`JSONDecodeError` when it is not one)."""
    if _orjson is not None:
        return _orjson.loads(body)
    return json.loads(body)
