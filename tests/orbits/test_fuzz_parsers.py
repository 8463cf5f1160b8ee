"""Fuzzing every element-set reader: whatever the input, a skyfence error or a result.

Inputs are real lines (the golden files) mutated line by line and character by character,
OMM records with hostile values, and random text and bytes. A reader may only return an
``ElementSet`` or raise a :class:`~skyfence.errors.SkyfenceError`; an ``IndexError``,
``UnicodeDecodeError``, ``RecursionError``, ``OverflowError``, ``ValueError``... is a bug, and
so is a call that does not return within ``HANG_S`` seconds (an alarm interrupts it).

Budget: ``max_examples`` 150-200 per test, no deadline (timing varies on a shared machine;
the alarm catches real hangs). The whole file runs in ~10-20 s.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import SkyfenceError
from skyfence.orbits.elements import ElementSet, parse_elements
from skyfence.orbits.formats import FORMATS, detect_format

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "elements"
GOLDEN_FILES = [
    "starlink-4.3le",
    "alpha5.3le",
    "starlink-4.json",
    "starlink-4.csv",
    "starlink-4.xml",
]
GOLDEN_TEXT = {name: (GOLDEN / name).read_text() for name in GOLDEN_FILES}
HANG_S = 10

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# characters that trip parsers: digits Python reads but TLEs do not have, signs, exponents,
# separators of every format, line breaks str.splitlines knows, NUL, a BOM, surrogates
TRICKY = (
    "0123456789 +-.eE,;\"'<>&[]{}:#\t\r\n\x0b\x0c\x1c\x85\u2028\x00\ufeff١٥٣٠０１９\u00a0ABIOUCSXZ"
)
HOSTILE_VALUES = [
    "1e300",
    "-1e300",
    "nan",
    "NaN",
    "Infinity",
    "-0",
    "9" * 5000,
    "١٥.٣",
    "１５",
    "",
    " ",
    "0x1F",
    "1_000",
    "1e-400",
    "15.31035506" * 10,
    "2026-13-40T99:99:99",
    "<![CDATA[x]]>",
    "&amp;",
    '"',
    "\\u0000",
]


def only_project_errors(data: str | bytes, **kwargs) -> ElementSet | None:
    """Parse; return the set, None for a SkyfenceError; fail on anything else or a hang."""

    def hang(signum, frame):  # noqa: ARG001
        raise AssertionError(f"the reader did not return within {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_S)
    try:
        return parse_elements(data, **kwargs)
    except SkyfenceError as exc:
        assert "\n" not in str(exc), "error messages are one line"
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _mutate_line(line: str, op: int, at: int, text: str) -> list[str]:
    """One edit of one line; returns the lines that replace it."""
    k = at % (len(line) + 1)
    if op == 0:  # overwrite characters
        return [line[:k] + text + line[k + len(text) :]]
    if op == 1:  # insert
        return [line[:k] + text + line[k:]]
    if op == 2:  # delete from here
        return [line[:k] + line[k + max(1, len(text)) :]]
    if op == 3:  # cut the line short
        return [line[:k]]
    if op == 4:  # drop the line
        return []
    if op == 5:  # repeat it
        return [line, line]
    return [text]  # replace it


edits = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10**6),  # which line
        st.integers(min_value=0, max_value=6),  # what to do
        st.integers(min_value=0, max_value=10**6),  # where in the line
        st.one_of(st.text(alphabet=TRICKY, max_size=6), st.sampled_from(HOSTILE_VALUES)),
    ),
    min_size=1,
    max_size=5,
)


def mutated(name: str, changes) -> str:
    lines = GOLDEN_TEXT[name].splitlines()
    for which, op, at, text in changes:
        if not lines:
            break
        i = which % len(lines)
        lines[i : i + 1] = _mutate_line(lines[i], op, at, text)
    return "\n".join(lines) + "\n"


@FUZZ
@given(st.sampled_from(GOLDEN_FILES), edits, st.sampled_from([None, *FORMATS]), st.booleans())
def test_mutated_golden_files(name, changes, fmt, skip):
    only_project_errors(mutated(name, changes), format=fmt, on_invalid="skip" if skip else "raise")


@FUZZ
@given(
    st.sampled_from(GOLDEN_FILES),
    edits,
    st.sampled_from(["utf-8", "utf-16", "latin-1"]),
    st.integers(min_value=0, max_value=10**6),
)
def test_mutated_golden_files_as_bytes_in_other_encodings_and_truncated(
    name, changes, encoding, cut
):
    data = mutated(name, changes).encode(encoding, errors="replace")
    only_project_errors(data[: cut % (len(data) + 1)])


# records with hostile values, in each OMM encoding


def _golden_records() -> list[dict]:
    return json.loads(GOLDEN_TEXT["starlink-4.json"])


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(alphabet=TRICKY, max_size=12),
        st.sampled_from(HOSTILE_VALUES),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)
keys = st.sampled_from(
    [*_golden_records()[0], "MEAN_ELEMENT_THEORY", "CENTER_NAME", "", "mean_motion"]
)
# numbers just outside (and on) the ranges, and far outside
edge_numbers = st.sampled_from(
    [
        1e300,
        -1e300,
        17.5,
        16.9,
        0.0,
        -0.0,
        -1,
        1,
        0.99999999,
        360.0,
        360.0001,
        180.0001,
        -1e-300,
        1e9,
        0.99999e9,
        10**9,
        999_999_999,
        10**30,
        2**53 + 1,
        5e-324,
    ]
)
hostile = st.one_of(edge_numbers, st.sampled_from(HOSTILE_VALUES), json_values)


@FUZZ
@given(st.dictionaries(keys, hostile, min_size=1, max_size=6), st.booleans())
def test_omm_json_records_with_hostile_values(changes, drop):
    records = _golden_records()
    rec = records[1]
    for key, value in changes.items():
        if drop and value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    text = json.dumps(records, allow_nan=True)
    es = only_project_errors(text)
    if es is not None:  # accepted: then the values are the ones the ranges allow
        assert ((es.eccentricity >= 0) & (es.eccentricity < 1)).all()
        assert ((es.raan_deg >= 0) & (es.raan_deg <= 360)).all()
        assert (es.mean_altitude_km > 0).all()


@FUZZ
@given(
    st.dictionaries(
        keys,
        st.one_of(st.text(alphabet=TRICKY, max_size=12), st.sampled_from(HOSTILE_VALUES)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from(["omm-csv", "omm-xml"]),
    st.booleans(),
)
def test_omm_csv_and_xml_records_with_hostile_values(changes, fmt, skip):
    text = ElementSet.from_text(GOLDEN_TEXT["starlink-4.json"]).to_text(fmt)
    for key, value in changes.items():  # put the raw text in place of the golden value
        old = str(_golden_records()[2].get(key, ""))
        if fmt == "omm-xml" and old:
            text = text.replace(f"<{key}>{old}</{key}>", f"<{key}>{value}</{key}>", 1)
        elif old:
            text = text.replace(f",{old},", f",{value},", 1)
    only_project_errors(text, format=fmt if skip else None, on_invalid="skip" if skip else "raise")


RAW_TOKENS = [
    "9" * 5000,
    "-" + "9" * 4400,
    "1e999",
    "-1e999",
    "1" + "0" * 400 + ".5",
    "NaN",
    "-Infinity",
    "1.5e-9999",
    "[" * 2000,
    "{",
    '"\\ud800"',
    "0" * 50,
    "tru",
]


@FUZZ
@given(keys, st.sampled_from(RAW_TOKENS), st.integers(min_value=0, max_value=3))
def test_omm_json_raw_tokens(key, token, which):
    """Tokens json.dumps cannot make: 5,000-digit integers, overflowing exponents..."""
    records = _golden_records()
    records[which][key] = "@@"
    only_project_errors(json.dumps(records).replace('"@@"', token))


# random input


@FUZZ
@given(st.text(max_size=3000), st.sampled_from([None, *FORMATS]), st.booleans())
def test_random_text(text, fmt, skip):
    only_project_errors(text, format=fmt, on_invalid="skip" if skip else "raise")


@FUZZ
@given(st.binary(max_size=3000), st.sampled_from([None, *FORMATS]))
def test_random_bytes(data, fmt):
    only_project_errors(data, format=fmt)


@FUZZ
@given(
    st.sampled_from(["[", "{", "<", "1 ", "2 ", "OBJECT_NAME,", "<ndm><segment>", '[{"EPOCH":']),
    st.text(alphabet=TRICKY, max_size=2000),
)
def test_random_text_after_each_format_signature(start, rest):
    only_project_errors(start + rest)


@FUZZ
@given(st.text(max_size=3000))
def test_format_detection_raises_only_parse_errors(text):
    try:
        assert detect_format(text) in FORMATS
    except SkyfenceError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", "{", "<x>", '{"a":[']))
def test_deep_nesting(depth, opener):
    closer = {"[": "]", "{": "}", "<x>": "</x>", '{"a":[': "]}"}[opener]
    only_project_errors(opener * depth + closer * depth)
    only_project_errors(opener * depth)


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_the_golden_files_themselves_parse(name):
    """The fuzzers start from valid files: each must parse cleanly as it is."""
    es = only_project_errors(GOLDEN_TEXT[name])
    assert es is not None and len(es) >= 3 and es.skipped == ()
