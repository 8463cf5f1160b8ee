"""Canonical JSON (RFC 8785 style): sorted keys, no whitespace, UTF-8, no NaN or infinities.

The same object always gives the same bytes, so its hash identifies it.

Examples
--------
>>> canonical_json({"b": 1, "a": [True, None, "é"]})
b'{"a":[true,null,"\\xc3\\xa9"],"b":1}'
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from skyfence.errors import InputError

__all__ = ["canonical_json", "canonical_hash"]


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON-able object.

    Raises :class:`~skyfence.errors.InputError` for values JSON cannot hold exactly
    (NaN, infinities, sets, objects, non-string keys).
    """
    try:
        _check_keys(obj)
        text = json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot write this value as canonical JSON ({exc}); use only dicts with string "
            "keys, lists, strings, finite numbers, booleans and null"
        ) from None
    return text.encode("utf-8")


def canonical_hash(obj: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def _check_keys(obj: Any) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} is a {type(key).__name__}, not a string")
            _check_keys(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            _check_keys(value)
