"""Batch bodies read as columns accept only what the request model accepts, with the same
values; results written from code arrays equal the engine's names row for row."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skyfence.policy.decision import REASONS, STATES, BatchDecision
from skyfence.service._batch import arrow_results, json_columns, json_results
from skyfence.service.schemas import BatchRequest

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=3),
    st.text(min_size=199, max_size=202),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)
KEYS = ["terminal_id", "latitude_deg", "longitude_deg", "speed_kmh", "altitude_m", "time", "x"]


def good_row(draw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "terminal_id": draw(st.text(min_size=1, max_size=5)),
        "latitude_deg": draw(st.one_of(st.floats(-100, 100), st.integers(-100, 100))),
        "longitude_deg": draw(st.floats(-200, 200)),
    }
    for key in ("speed_kmh", "altitude_m"):
        if draw(st.booleans()):
            row[key] = draw(st.one_of(st.none(), st.floats(0, 1e4), st.integers(0, 10)))
    if draw(st.booleans()):
        row["time"] = draw(st.one_of(st.none(), st.just("2030-01-01T00:00:00Z")))
    return row


@st.composite
def bodies(draw: Any) -> bytes:
    rows: list[Any] = [good_row(draw) for _ in range(draw(st.integers(0, 4)))]
    if rows and draw(st.integers(0, 3)):  # one change that may make the body invalid
        i = draw(st.integers(0, len(rows) - 1))
        what = draw(st.sampled_from(["set", "set", "set", "set", "drop", "replace"]))
        if what == "set":
            rows[i][draw(st.sampled_from(KEYS))] = draw(VALUES)
        elif what == "drop":
            rows[i].pop(draw(st.sampled_from(KEYS[:3])))
        else:
            rows[i] = draw(VALUES)
    doc: dict[str, Any] = {"rows": rows}
    if draw(st.booleans()):
        doc["time"] = draw(st.one_of(st.none(), st.just("2030-01-01T00:00:00Z"), VALUES))
    if draw(st.integers(0, 9)) == 0:
        doc["extra"] = 1
    return json.dumps(doc).encode()


def _nan_or(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _one(**row: Any) -> bytes:
    base = {"terminal_id": "T1", "latitude_deg": 50.0, "longitude_deg": 20.0}
    return json.dumps({"rows": [{**base, **row}]}).encode()


@settings(max_examples=600, deadline=None)
@given(bodies())
@example(_one(time=5))
@example(_one(latitude_deg=True))
@example(_one(latitude_deg="1.5"))
@example(_one(latitude_deg="north"))
@example(_one(terminal_id=""))
@example(_one(terminal_id="x" * 201))
@example(_one(speed_kmh="fast"))
@example(_one(altitude_m=[1]))
@example(_one(time="x" * 65))
@example(b'{"rows": [], "time": 3}')
@example(b'{"rows": {}}')
@example(b"[1]")
def test_columns_accept_only_what_the_model_accepts_with_its_values(body: bytes) -> None:
    fast = json_columns(body)
    try:
        model = BatchRequest.model_validate_json(body)
    except ValueError:
        assert fast is None, body  # the model refuses it: so must the columns
        return
    if fast is None:  # the model decides such a body itself (never the common shapes)
        return
    columns, default, times = fast
    rows = model.rows
    assert default == model.time
    assert columns["terminal_id"].tolist() == [r.terminal_id for r in rows]
    assert columns["lat"].tolist() == [r.latitude_deg for r in rows]
    assert columns["lon"].tolist() == [r.longitude_deg for r in rows]
    for key in ("speed_kmh", "altitude_m"):
        want = [_nan_or(getattr(r, key)) for r in rows]
        got = columns[key].tolist() if key in columns else [math.nan] * len(rows)
        assert np.array_equal(got, want, equal_nan=True), key
    want_times = [r.time for r in rows]
    assert (times or [None] * len(rows)) == want_times


def test_the_common_shapes_take_the_column_path() -> None:
    rows = [{"terminal_id": f"T{i}", "latitude_deg": 50 + i / 7, "longitude_deg": i}
            for i in range(100)]  # fmt: skip
    assert json_columns(json.dumps({"rows": rows}).encode()) is not None
    rows[3] = {**rows[3], "speed_kmh": 12.5, "time": "2030-01-01T00:00:00Z"}
    out = json_columns(json.dumps({"rows": rows, "time": None}).encode())
    assert out is not None
    columns, _, times = out
    assert columns["speed_kmh"][3] == 12.5 and np.isnan(columns["speed_kmh"][2])
    assert times is not None and times[3] == "2030-01-01T00:00:00Z" and times[2] is None
    assert json_columns(json.dumps({"rows": []}).encode()) is not None


def _decisions(n: int, seed: int) -> BatchDecision:
    rng = np.random.default_rng(seed)
    rule_ids = ("pl", "ua", "de-east")
    return BatchDecision(
        allowed=rng.random(n) < 0.5,
        state=rng.integers(-1, len(STATES), n).astype(np.int8),
        region=np.zeros(n, np.int32),
        rule=rng.integers(-1, len(rule_ids), n).astype(np.int32),
        reason=rng.integers(0, len(REASONS), n).astype(np.uint8),
        reasons_mask=np.zeros(n, np.uint16),
        country=np.zeros(n, np.int32),
        rule_ids=rule_ids,
    )


def test_results_written_from_codes_equal_the_engine_names() -> None:
    out = _decisions(5000, 1)
    prov = {
        "policy_version": 7,
        "log_index": 12,
        "checkpoint": {"tree_size": 13, "root_hash": "ab"},
    }
    body = json.loads(json_results(out, prov))
    assert body["count"] == 5000 and body["allowed"] == int(out.allowed.sum())
    assert body["policy_version"] == 7 and body["log_index"] == 12
    assert body["checkpoint"] == {"tree_size": 13, "root_hash": "ab"}
    got = body["results"]
    assert [r["allowed"] for r in got] == out.allowed.tolist()
    assert [r["state"] for r in got] == out.state_names().tolist()
    assert [r["rule_id"] for r in got] == out.rule_names().tolist()
    assert [r["reason"] for r in got] == out.reason_names().tolist()
    assert all(set(r) == {"allowed", "state", "rule_id", "reason"} for r in got)
    table = pa.ipc.open_stream(arrow_results(out, prov)).read_all()
    assert table.column("allowed").to_pylist() == out.allowed.tolist()
    assert table.column("state").to_pylist() == out.state_names().tolist()
    assert table.column("rule_id").to_pylist() == out.rule_names().tolist()
    assert table.column("reason").to_pylist() == out.reason_names().tolist()
    assert json.loads(table.schema.metadata[b"checkpoint"]) == prov["checkpoint"]
    empty = json.loads(json_results(_decisions(0, 2), prov))
    assert empty["results"] == [] and empty["count"] == 0
