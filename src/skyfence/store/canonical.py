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

from skyfence.errors import InputError, ParseError

__all__ = ["canonical_json", "canonical_hash", "loads_strict"]


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON-able object.

    Raises :class:`~skyfence.errors.InputError` for values JSON cannot hold exactly
    (NaN, infinities, sets, objects, non-string keys).
    """
    try:
        _check_keys(obj)
        return _ENCODE(obj).encode("utf-8")  # a lone surrogate cannot be UTF-8: refused here
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"cannot write this value as canonical JSON ({exc}); use only dicts with string "
            "keys, lists, strings (valid Unicode), finite numbers, booleans and null"
        ) from None


def canonical_hash(obj: Any) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``obj``."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


# made once: ``json.dumps`` with options builds an encoder for every call
_ENCODE = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode
_CONTAINERS = (dict, list, tuple)


def _check_keys(obj: Any) -> None:
    """Refuse non-string keys (``json`` would turn ``1`` into ``"1"``), at any depth; only
    containers are descended into."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if not isinstance(key, str):
                raise TypeError(f"key {key!r} is a {type(key).__name__}, not a string")
            if isinstance(value, _CONTAINERS):
                _check_keys(value)
    elif isinstance(obj, list | tuple):
        for value in obj:
            if isinstance(value, _CONTAINERS):
                _check_keys(value)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)  # in C; a duplicate key leaves fewer entries than pairs
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# made once: ``json.loads`` with hooks would build a decoder for every call
_STRICT = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants
)


def loads_strict(text: str | bytes, *, source: str | None = None, line: int | None = None) -> Any:
    """Parse JSON refusing what canonical JSON cannot hold: duplicate keys, NaN, infinities.

    A duplicate key is refused because two readers may keep different values of it (the
    first or the last); nesting too deep for the parser is a :class:`ParseError`, never a
    ``RecursionError``.

    Examples
    --------
    >>> loads_strict('{"a": 1, "b": [true]}')
    {'a': 1, 'b': [True]}
    >>> loads_strict('{"a": 1, "a": 2}', source="x.jsonl", line=3)
    Traceback (most recent call last):
    ...
    skyfence.errors.ParseError: x.jsonl line 3: key 'a' appears twice in one object; ...
    """
    try:
        if isinstance(text, str) and not text.startswith("\ufeff"):  # as json.loads would
            return _STRICT.decode(text)
        return json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants
        )
    except _DuplicateKey as exc:
        raise ParseError(
            f"key {exc.key!r} appears twice in one object; readers would disagree on its "
            "value, so the record is refused",
            source=source,
            line=line,
        ) from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON ({exc.msg})", source=source, line=line) from None
    except RecursionError:
        raise ParseError(
            "JSON nested too deeply to read; a log record is at most a few levels deep",
            source=source,
            line=line,
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not valid JSON ({exc})", source=source, line=line) from None
