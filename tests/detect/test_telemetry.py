"""Telemetry ingest: three formats, the same rows; bad rows by line; blocks; labels unread."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skyfence.detect import Telemetry, read_column, read_telemetry, write_telemetry
from skyfence.detect.testing import telemetry, trace
from skyfence.errors import InputError, ParseError, SkyfenceError

CSV = """terminal_id,time,latitude_deg,longitude_deg,altitude_m,speed_kmh,label
a,2026-02-01T00:00:00Z,50.1,30.2,,,home
a,2026-02-01T00:05:00+02:00,50.1,30.2,120.5,3,home

b,2026-02-01T00:01:00,-33.9,18.4,,12,van
"""


def _same(t: Telemetry, u: Telemetry) -> None:
    assert t.ids().tolist() == u.ids().tolist()
    for name in ("time_ns", "latitude_deg", "longitude_deg", "altitude_m", "speed_kmh"):
        np.testing.assert_array_equal(getattr(t, name), getattr(u, name), err_msg=name)


def test_csv_values_and_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(CSV)
    t = read_telemetry(p)
    assert t.ids().tolist() == ["a", "a", "b"]
    assert t.line.tolist() == [2, 3, 5]  # the blank line 4 is not a row
    # +02:00 is converted to UTC; no offset means UTC
    assert t.times.astype(str).tolist() == [
        "2026-02-01T00:00:00.000000000",
        "2026-01-31T22:05:00.000000000",
        "2026-02-01T00:01:00.000000000",
    ]
    assert t.latitude_deg[2] == -33.9 and np.isnan(t.altitude_m[0]) and t.altitude_m[1] == 120.5
    assert np.isnan(t.speed_kmh[0]) and t.speed_kmh.tolist()[1:] == [3.0, 12.0]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_the_three_formats_round_trip(tmp_path, suffix):
    src = tmp_path / "t.csv"
    src.write_text(CSV)
    t = read_telemetry(src)
    out = write_telemetry(
        t, tmp_path / f"out{suffix}", extra={"label": np.array(["x"] * 3, object)}
    )
    _same(t, read_telemetry(out))
    assert read_column(out, "label").tolist() == ["x", "x", "x"]


def test_json_lines_with_numbers_or_text(tmp_path):
    p = tmp_path / "t.jsonl"
    rows = [
        {
            "terminal_id": 7,
            "time": "2026-02-01T00:00:00Z",
            "latitude_deg": 50,
            "longitude_deg": "30.5",
        },
        {
            "terminal_id": "b",
            "time": "2026-02-01T00:01:00Z",
            "latitude_deg": 1.5,
            "longitude_deg": 2,
            "speed_kmh": None,
        },
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    t = read_telemetry(p)
    assert t.ids().tolist() == ["7", "b"] and t.longitude_deg.tolist() == [30.5, 2.0]


def test_parquet_timestamp_column(tmp_path):
    p = tmp_path / "t.parquet"
    times = pa.array(np.array(["2026-02-01T00:00", "2026-02-01T00:05"], "datetime64[ns]"))
    pq.write_table(
        pa.table(
            {
                "terminal_id": ["a", "a"],
                "time": times,
                "latitude_deg": [1.0, 2.0],
                "longitude_deg": [3.0, 4.0],
            }
        ),
        p,
    )
    t = read_telemetry(p)
    assert t.line.tolist() == [1, 2] and t.times[1] == np.datetime64("2026-02-01T00:05")


BAD = """terminal_id,time,latitude_deg,longitude_deg,speed_kmh
a,2026-02-01T00:00:00Z,50.1,30.2,
b,2026-02-01T00:01:00Z,abc,30.2,5
c,2026-02-30T00:02:00Z,50,30,7
d,2026-02-01T00:02:00Z,50,30
e,2026-02-01T00:02:00Z,95,30,1
,2026-02-01T00:02:00Z,5,30,1
f,2026-02-01T00:02:00Z,5,30,-4
g,2026-02-01T00:02:00Z,5,30,fast
h,2026-02-01T00:03:00Z,5,30,1
"""


def test_bad_rows_raise_with_their_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(BAD)
    with pytest.raises(ParseError, match=r"bad.csv line 3: latitude_deg 'abc' is not a number"):
        read_telemetry(p)


def test_bad_rows_skipped_are_listed_never_dropped_silently(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(BAD)
    t = read_telemetry(p, on_invalid="skip")
    assert t.ids().tolist() == ["a", "h"] and t.line.tolist() == [2, 10]
    assert t.rejected_count == 7
    assert [(r.line, r.reason.split(" ")[0]) for r in t.rejected] == [
        (3, "latitude_deg"),
        (4, "time"),
        (5, "expected"),
        (6, "latitude_deg"),
        (7, "terminal_id"),
        (8, "speed_kmh"),
        (9, "speed_kmh"),
    ]
    assert "outside -90..90" in t.rejected[3].reason and "negative" in t.rejected[5].reason
    assert t.terminal_ids.tolist() == ["a", "h"]  # no ids of bad rows


def test_bad_json_lines_are_listed(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text(
        '{"terminal_id":"a","time":"2026-02-01T00:00:00Z","latitude_deg":1,"longitude_deg":2}\n'
        "\n"
        "not json\n"
        '{"terminal_id":"b","time":"2026-02-01T00:00:00Z","latitude_deg":1}\n'
    )
    t = read_telemetry(p, on_invalid="skip")
    assert len(t) == 1 and [r.line for r in t.rejected] == [3, 4]
    assert "missing longitude_deg" in t.rejected[1].reason


@pytest.mark.parametrize(
    "text,match",
    [
        (
            "terminal_id,time,latitude_deg\na,2026-02-01T00:00:00Z,5\n",
            "missing column.*longitude_deg",
        ),
        ("", "missing column"),
    ],
)
def test_a_file_without_the_columns_fails_before_reading(tmp_path, text, match):
    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(ParseError, match=match):
        read_telemetry(p)


def test_unknown_suffix_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"\.csv, \.jsonl"):
        read_telemetry(tmp_path / "t.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        read_telemetry(tmp_path / "none.csv")
    with pytest.raises(InputError, match="on_invalid"):
        read_telemetry(tmp_path / "none.csv", on_invalid="ignore")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_small_blocks_give_the_same_rows_and_lines(tmp_path, suffix):
    rng = np.random.default_rng(3)
    n = 2000
    tel = telemetry(trace("x", rng.uniform(-80, 80, n), rng.uniform(-179, 179, n), step_min=1))
    p = write_telemetry(tel, tmp_path / f"t{suffix}")
    whole = read_telemetry(p)
    blocks = read_telemetry(p, block_bytes=997)  # blocks cut mid-line, then to whole lines
    _same(whole, blocks)
    np.testing.assert_array_equal(whole.line, blocks.line)
    assert whole.line[0] == (2 if suffix == ".csv" else 1)


def test_a_file_that_is_not_utf8_is_a_clear_error(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(
        b"terminal_id,time,latitude_deg,longitude_deg\n\xff\xfe,2026-02-01T00:00:00Z,1,2\n"
    )
    with pytest.raises(SkyfenceError, match="line 2: the line is not UTF-8"):
        read_telemetry(p)


def test_the_label_column_is_never_read(tmp_path):
    tel = telemetry(trace("a", [1.0, 2.0], [3.0, 4.0]))
    p = write_telemetry(tel, tmp_path / "t.parquet", extra={"label": np.array(["x", "y"], object)})
    back = read_telemetry(p)
    assert not any("label" in f for f in back.__dataclass_fields__)
    schema = pq.read_schema(p)
    assert "label" in schema.names


def test_sorted_orders_by_terminal_then_time():
    t = telemetry(
        trace("b", [1.0, 2.0], [0.0, 0.0]),
        trace("a", [3.0, 4.0], [0.0, 0.0], start=np.datetime64("2026-01-01T00:00", "ns")),
    )
    t = t.take(np.array([1, 0, 3, 2]))
    s = t.sorted()
    assert s.ids().tolist() == ["b", "b", "a", "a"]
    assert s.latitude_deg.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert s.sorted() is s
