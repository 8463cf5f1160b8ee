"""Element-set readers against hostile input: values out of range, non-ASCII digits, huge
numbers, huge files of garbage, entity bombs.

Independent truths: the TLE reader's own ranges (what a TLE's columns can hold), the Earth's
radius (an orbit whose mean semi-major axis is below it runs inside the Earth), Python's
documented limits (``int()`` refuses more than 4,300 digits; ``float()`` and ``re``'s
``\\d`` take any Unicode decimal digit), and ``tracemalloc`` for what a reader holds.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from skyfence.errors import InputError, ParseError
from skyfence.orbits.elements import ElementSet, parse_elements
from skyfence.orbits.formats import format_elements, from_alpha5
from skyfence.orbits.formats.source import BLOCK_BYTES

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"
L1 = "1 44714U 19074B   26053.95338319  .00001514  00000+0  61711-4 0  9998"
L2 = "2 44714  53.1565 247.2957 0001251  94.4223 265.6921 15.31035506346616"


def golden_record(**changes) -> dict:
    rec = json.loads((GOLDEN / "starlink-4.json").read_text())[0]
    rec.update(changes)
    return rec


def as_json(rec: dict) -> str:
    return json.dumps([rec])


def as_csv(rec: dict) -> str:
    keys = list(rec)
    return ",".join(keys) + "\n" + ",".join(str(rec[k]) for k in keys) + "\n"


def as_xml(rec: dict) -> str:
    meta = "".join(f"<{k}>{rec[k]}</{k}>" for k in ("OBJECT_NAME", "OBJECT_ID"))
    data = "".join(
        f"<{k}>{v}</{k}>" for k, v in rec.items() if k not in ("OBJECT_NAME", "OBJECT_ID")
    )
    return f"<ndm><omm><body><segment><metadata>{meta}</metadata><data><meanElements>{data}</meanElements></data></segment></body></omm></ndm>"


ENCODINGS = {"omm-json": as_json, "omm-csv": as_csv, "omm-xml": as_xml}


def refused(text: str | bytes, **kwargs) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_elements(text, **kwargs)
    return info.value


# ============================================================ OMM values in range


@pytest.mark.parametrize("fmt", ENCODINGS)
@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        # 1e300 rev/day: a semi-major axis of ~0 km, an "altitude" of -6,378 km
        ("MEAN_MOTION", "1e300", "an orbit inside the Earth"),
        ("MEAN_MOTION", "20.5", "an orbit inside the Earth"),
        # a subnormal mean motion: > 0, but its orbit has no finite size
        ("MEAN_MOTION", "5e-324", "MEAN_MOTION is 5e-324; it must be at least 1e-08 rev/day"),
        ("MEAN_MOTION", "0", "MEAN_MOTION is 0.0; it must be > 0 rev/day"),
        ("BSTAR", "1e300", "BSTAR is 1e+300; it must be within ±1e+09"),
        ("MEAN_MOTION_DDOT", "-2e9", "MEAN_MOTION_DDOT is -2000000000.0"),
        ("MEAN_MOTION_DOT", "3.5", "MEAN_MOTION_DOT is 3.5 rev/day²"),
        ("RA_OF_ASC_NODE", "-10", "RA_OF_ASC_NODE is -10.0; it must be in 0..360"),
        ("RA_OF_ASC_NODE", "400", "RA_OF_ASC_NODE is 400.0"),
        ("ARG_OF_PERICENTER", "360.5", "ARG_OF_PERICENTER is 360.5"),
        ("MEAN_ANOMALY", "-0.1", "MEAN_ANOMALY is -0.1"),
        ("INCLINATION", "-1", "INCLINATION is -1.0"),
        ("ECCENTRICITY", "1", "ECCENTRICITY is 1.0"),
        ("NORAD_CAT_ID", "1000000000", "NORAD_CAT_ID is"),
    ],
)
def test_omm_values_out_of_range_are_refused(fmt, key, value, says):
    rec = golden_record(**{key: value})
    err = refused(ENCODINGS[fmt](rec), format=fmt)
    assert says in str(err), str(err)
    assert "\n" not in str(err)


def test_the_largest_nine_digit_norad_id_and_edge_angles_are_accepted():
    rec = golden_record(NORAD_CAT_ID=999_999_999, RA_OF_ASC_NODE=360.0, MEAN_ANOMALY=0.0)
    es = parse_elements(as_json(rec))
    assert es.norad_ids.tolist() == [999_999_999] and es.raan_deg[0] == 360.0


def test_omm_ranges_are_the_tle_ranges():
    """Whatever an OMM reader accepts, the TLE writer can write (bar the NORAD id)."""
    rec = golden_record(BSTAR=0.99999e9, MEAN_MOTION_DDOT=-0.99999e9, MEAN_MOTION_DOT=-0.99999999)
    es = parse_elements(as_json(rec))
    back = ElementSet.from_text(format_elements(es, "tle"))
    assert back.bstar[0] == pytest.approx(0.99999e9) and back.mean_motion_dot[0] == -0.99999999


def test_tle_mean_motion_inside_the_earth_is_refused():
    # 25 rev/day fits the columns (two integer digits) but a = 5,040 km < 6,378 km
    l2 = L2[:52] + "25.00000000" + L2[63:]
    l2 = l2[:68] + str(_checksum(l2))
    err = refused(f"{L1}\n{l2}\n")
    assert err.line == 2 and "an orbit inside the Earth" in str(err)


def _checksum(line: str) -> int:
    return (sum(int(c) for c in line[:68] if c.isdigit()) + line[:68].count("-")) % 10


# ============================================================ digits are ASCII


@pytest.mark.parametrize("fmt", ENCODINGS)
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("MEAN_MOTION", "١٥.٣١٠٣٥٥٠٦"),  # Arabic-Indic: float() reads it as 15.31035506
        ("MEAN_MOTION", "１５.３１０３５５０６"),  # full-width digits
        ("NORAD_CAT_ID", "٤٤٧١٤"),
        ("ECCENTRICITY", ".０００１２５１"),
        ("EPOCH", "٢٠٢٦-02-22T22:52:52.307616"),  # re's \\d matches these too
        ("EPOCH", "2026-02-22T22:52:52.３０７６１６"),
    ],
)
def test_non_ascii_digits_are_refused(fmt, key, value):
    assert float("١٥.٣") == 15.3  # the trap: Python reads them
    err = refused(ENCODINGS[fmt](golden_record(**{key: value})), format=fmt)
    assert key in str(err)


# ============================================================ huge numbers


def test_a_5000_digit_norad_id_is_a_parse_error_not_a_crash():
    # json.loads refuses to build the int (ValueError, not JSONDecodeError)
    text = as_json(golden_record()).replace(
        '"NORAD_CAT_ID": 44714', '"NORAD_CAT_ID": ' + "9" * 5000
    )
    err = refused(text)
    assert "NORAD_CAT_ID is 5,000 characters long" in str(err)
    for fmt in ("omm-csv", "omm-xml"):
        err = refused(ENCODINGS[fmt](golden_record(NORAD_CAT_ID="9" * 5000)), format=fmt)
        assert "NORAD_CAT_ID" in str(err)


def test_alpha5_field_longer_than_five_characters_is_an_input_error():
    with pytest.raises(InputError, match="more than 5 characters"):
        from_alpha5("1" * 5000)


def test_deeply_nested_json_values_are_record_errors():
    deep = "[" * 500 + "]" * 500
    text = as_json(golden_record()).replace('"U"', deep)
    err = refused(text)
    assert "CLASSIFICATION_TYPE is [[[[...]]]]; expected text" in str(err)
    err = refused("[" * 100_000 + "]" * 100_000, format="omm-json")
    assert "nested too deeply" in str(err)


# ============================================================ XML entities


@pytest.mark.parametrize(
    "prolog",
    [
        # billion laughs
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>',
        # an external entity
        '<!DOCTYPE ndm [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        "<!doctype ndm>",
    ],
)
def test_xml_doctype_and_entities_are_refused(prolog):
    text = '<?xml version="1.0"?>' + prolog + as_xml(golden_record())
    assert "DOCTYPE or ENTITY" in str(refused(text))


def test_xml_doctype_across_a_block_boundary_is_refused():
    # the declaration starts 4 characters before the end of the first block of text
    pad = "<!--" + "x" * (BLOCK_BYTES - 12) + "-->"
    text = pad + "\n<!DOCTYPE ndm>" + as_xml(golden_record())
    assert text.index("<!DOCTYPE") == BLOCK_BYTES - 4
    assert "DOCTYPE or ENTITY" in str(refused(text.encode(), format="omm-xml"))


# ============================================================ large files of garbage


def _peak_mb(fn) -> tuple[Exception, float]:
    tracemalloc.start()
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - returned to the test
        error = exc
    else:  # pragma: no cover - the tests expect a failure
        raise AssertionError("expected an error")
    finally:
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return error, peak


def _write(path: Path, unit: bytes, size: int, prefix: bytes = b"") -> Path:
    with open(path, "wb") as fh:
        fh.write(prefix)
        for _ in range(size // len(unit)):
            fh.write(unit)
    return path


GARBAGE_BYTES = 24_000_000


@pytest.mark.parametrize(
    ("name", "unit", "line", "says"),
    [
        # lines that look like TLE line 1 but are never followed by a line 2
        ("garbage.tle", b"1 " + b"x7-.3 " * 11 + b"z\n", 1, "is not followed by its line 2"),
        # one line without an end: binary-like garbage
        ("oneline.tle", b"1 " + b"q" * 998, 1, "longer than 65,536 characters"),
        (
            "garbage.json",
            b'[{"a": ' + b"x" * 993,
            1,
            "not valid JSON (Expecting value at column 8)",
        ),
        ("garbage.csv", b"NORAD_CAT_ID,EPOCH\n" + b"1,2,3\n" * 166, 1, "the CSV header lacks"),
        ("nested.xml", b"<x>" * 1000, None, "nested more than"),
    ],
)
def test_large_garbage_fails_at_its_start_with_bounded_memory(tmp_path, name, unit, line, says):
    """A 24 MB file of garbage: the error names its first lines and the reader holds a few
    blocks, not the file (the old reader held the file twice over and split it whole)."""
    path = _write(tmp_path / name, unit, GARBAGE_BYTES)
    err, peak = _peak_mb(lambda: ElementSet.from_file(path))
    assert isinstance(err, ParseError), repr(err)
    assert err.line == line and says in str(err), str(err)
    assert peak < 16, f"{peak:.1f} MB held for a {GARBAGE_BYTES / 1e6:.0f} MB file"


def test_xml_that_never_closes_is_read_with_bounded_memory(tmp_path):
    """Elements outside a segment are dropped once finished; a segment may not grow."""
    path = _write(tmp_path / "open.xml", b"<junk>y</junk>" * 1000, 4_000_000, b"<ndm><omm>")
    err, peak = _peak_mb(lambda: ElementSet.from_file(path))
    assert isinstance(err, ParseError) and "not well-formed XML" in str(err), str(err)
    assert peak < 16, peak
    path = _write(tmp_path / "seg.xml", b"<x>y</x>" * 1000, 4_000_000, b"<ndm><segment>")
    err, peak = _peak_mb(lambda: ElementSet.from_file(path))
    assert isinstance(err, ParseError) and "more than" in str(err) and "elements" in str(err)
    assert peak < 16, peak


def test_skip_mode_gives_up_on_a_file_that_is_mostly_garbage(tmp_path):
    rows = [L1, L2] + [f"GARBAGE {k}\nMORE {k}\n" for k in range(12_000)]
    err = refused("\n".join(rows), on_invalid="skip", source="x.3le")
    assert "invalid records and only 1 valid ones so far" in str(err)
    assert "not an element-set file" in str(err)
    # a file with a few bad records among good ones is read as before
    good = (GOLDEN / "starlink-4.3le").read_text()
    bad = f"NAME\n{L1[:68]}0\n{L2}\n"  # a wrong checksum
    es = parse_elements(good + bad * 3, on_invalid="skip")
    assert len(es) == 4 and len(es.skipped) == 3


def test_real_size_file_is_read_in_blocks_with_the_same_result(tmp_path):
    """A file larger than one read block gives exactly what the whole text gives."""
    text = (GOLDEN / "starlink-4.3le").read_text()
    n = BLOCK_BYTES // len(text) + 2
    big = "".join(
        text.replace("44714", f"{10000 + k:05d}")
        .replace("44718", f"{50000 + k:05d}")
        .replace("44925", f"{70000 + k:05d}")
        .replace("67717", f"{90000 + k:05d}")
        for k in range(n)
    )
    path = tmp_path / "big.3le"
    path.write_text(big, newline="\r\n")  # CRLF: a "\r" may end a block, its "\n" the next
    from_file = ElementSet.from_file(path, on_invalid="skip", verify_checksum=False)
    from_text = ElementSet.from_text(big, on_invalid="skip", verify_checksum=False)
    assert len(from_file) == len(from_text) == 4 * n
    for col in ("norad_ids", "epochs", "mean_motion_rev_per_day", "names"):
        np.testing.assert_array_equal(getattr(from_file, col), getattr(from_text, col))
    assert [s.line for s in from_file.skipped] == [s.line for s in from_text.skipped]
