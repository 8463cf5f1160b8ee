"""Batch bodies as columns: JSON rows read into numpy columns, results written from the
engine's code arrays (JSON or Arrow) without a Python object per row and field.

:func:`json_columns` accepts exactly what :class:`~skyfence.service.schemas.BatchRequest`
accepts and returns ``None`` for anything else, so the caller validates that body with the
model and answers with the model's own 422 errors: the checks here only have to be strict,
never complete. What they check, on whole columns at once: the top level is ``{"rows": [...],
"time"?}``; every row an object with no other keys than :class:`BatchRow`'s and the required
ones present; ``terminal_id`` text of 1–200 characters; coordinates numbers (not booleans);
``speed_kmh`` / ``altitude_m`` numbers or null; ``time`` text of at most 64 characters or null.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from skyfence.service import _json

__all__ = ["json_columns", "json_results", "arrow_results"]

_ROW_KEYS = frozenset(
    ("terminal_id", "latitude_deg", "longitude_deg", "speed_kmh", "altitude_m", "time")
)
_REQUIRED = frozenset(("terminal_id", "latitude_deg", "longitude_deg"))
_NUMBER = frozenset((float, int))
_OPTIONAL_NUMBER = frozenset((float, int, type(None)))
_OPTIONAL_TEXT = frozenset((str, type(None)))
MAX_ROWS = 1_000_000


def json_columns(body: bytes) -> tuple[dict[str, Any], str | None, list[str | None] | None] | None:
    """``(columns, default time, per-row times or None)`` of a valid JSON batch body, or
    ``None`` when the body is not one (then the model says why)."""
    try:
        doc = _json.loads(body)
    except _json.JSONDecodeError:
        return None
    if type(doc) is not dict or "rows" not in doc or not doc.keys() <= {"rows", "time"}:
        return None
    rows, default = doc["rows"], doc.get("time")
    if type(rows) is not list or len(rows) > MAX_ROWS:
        return None
    if not (default is None or (type(default) is str and len(default) <= 64)):
        return None
    if rows and set(map(type, rows)) != {dict}:
        return None
    try:  # every row has the required keys
        ids = [r["terminal_id"] for r in rows]
        lat = [r["latitude_deg"] for r in rows]
        lon = [r["longitude_deg"] for r in rows]
    except KeyError:
        return None
    present: set[str] = set(_REQUIRED)
    if sum(map(len, rows)) != len(_REQUIRED) * len(rows):  # some row has more keys
        for keys in set(map(tuple, rows)):  # the distinct key sequences: a handful
            shape = frozenset(keys)
            if not shape <= _ROW_KEYS:
                return None
            present |= shape
    if rows and not (
        set(map(type, ids)) == {str}
        and min(map(len, ids)) >= 1
        and max(map(len, ids)) <= 200
        and set(map(type, lat)) <= _NUMBER
        and set(map(type, lon)) <= _NUMBER
    ):
        return None
    columns: dict[str, Any] = {
        "terminal_id": np.array(ids, dtype=object),
        "lat": np.array(lat, dtype=np.float64),
        "lon": np.array(lon, dtype=np.float64),
    }
    for key, name in (("speed_kmh", "speed_kmh"), ("altitude_m", "altitude_m")):
        if key in present:
            values = [r.get(key) for r in rows]
            if not set(map(type, values)) <= _OPTIONAL_NUMBER:
                return None
            if any(v is not None for v in values):  # None -> NaN: the rule is not applied
                columns[name] = np.array(values, dtype=np.float64)
    times: list[str | None] | None = None
    if "time" in present:
        times = [r.get("time") for r in rows]
        if not set(map(type, times)) <= _OPTIONAL_TEXT or any(
            t is not None and len(t) > 64 for t in times
        ):
            return None
        if all(t is None for t in times):
            times = None
    return columns, default, times


def _codes(out: Any, n_states: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """allowed, state, rule and reason of every row as small non-negative integers (state
    ``n_states`` = invalid input, rule ``len(rule_ids)`` = none)."""
    allowed = np.asarray(out.allowed, dtype=bool)
    state = np.where(out.state < 0, n_states, out.state).astype(np.int64)
    rule = np.where(out.rule < 0, len(out.rule_ids), out.rule).astype(np.int64)
    reason = np.asarray(out.reason, dtype=np.int64)
    return allowed, state, rule, reason


def json_results(out: Any, prov: dict[str, Any]) -> bytes:
    """The JSON body of batch results: ``{"results": [{allowed, state, rule_id, reason}, ...],
    "count", "allowed", "policy_version", "log_index", "checkpoint"}``.

    A batch holds few distinct results (the states, rules and reasons of one policy), so
    each distinct row is encoded once and the body joined from those pieces.
    """
    from skyfence.policy import REASONS, STATES

    allowed, state, rule, reason = _codes(out, len(STATES))
    n_rules, n_reasons = len(out.rule_ids) + 1, len(REASONS)
    key = ((allowed.astype(np.int64) * (len(STATES) + 1) + state) * n_rules + rule) * n_reasons
    key += reason
    uniq, inverse = np.unique(key, return_inverse=True)
    states = [*STATES, "invalid_input"]
    rule_ids: list[str | None] = [*out.rule_ids, None]
    pieces = []
    for k in uniq.tolist():
        k, q = divmod(k, n_reasons)
        k, r = divmod(k, n_rules)
        a, s = divmod(k, len(STATES) + 1)
        row = {"allowed": bool(a), "state": states[s], "rule_id": rule_ids[r], "reason": REASONS[q]}
        pieces.append(_json.dumps(row))
    joined = b",".join(np.array(pieces, dtype=object)[inverse.reshape(-1)].tolist())
    tail = _json.dumps({"count": len(allowed), "allowed": int(allowed.sum()), **prov})
    return b'{"results":[' + joined + b"]," + tail[1:]


def arrow_results(out: Any, prov: dict[str, Any]) -> bytes:
    """An Arrow IPC stream of the results: ``allowed`` (bool), ``state`` and ``reason``
    (dictionary-encoded text), ``rule_id`` (text, null where no rule decided); the policy
    version, log index and checkpoint as JSON text in the schema's metadata."""
    import json

    import pyarrow as pa

    from skyfence.policy import REASONS, STATES

    allowed, state, rule, reason = _codes(out, len(STATES))
    none = rule == len(out.rule_ids)
    rules = pa.DictionaryArray.from_arrays(
        pa.array(np.where(none, 0, rule).astype(np.int32), mask=none),
        pa.array(list(out.rule_ids) or [""], pa.string()),
    )
    table = pa.table(
        {
            "allowed": pa.array(allowed, type=pa.bool_()),
            "state": pa.DictionaryArray.from_arrays(
                pa.array(state.astype(np.int32)), pa.array([*STATES, "invalid_input"])
            ),
            "rule_id": rules.cast(pa.string()),
            "reason": pa.DictionaryArray.from_arrays(
                pa.array(reason.astype(np.int32)), pa.array(list(REASONS), pa.string())
            ),
        }
    ).replace_schema_metadata(
        {
            "policy_version": json.dumps(prov.get("policy_version")),
            "log_index": json.dumps(prov.get("log_index")),
            "checkpoint": json.dumps(prov.get("checkpoint") or None),
        }
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())
