"""Hypothesis fuzzing of the parsers this layer owns — log exports, trusted checkpoints,
strict JSON, terminal files, names — with a fixed budget: whatever the input, the result is
a value or one of skyfence's own errors, never a traceback of another kind and never a hang.
(The policy YAML/JSON, region-expression and element-set parsers are fuzzed in
tests/policy, tests/regions and tests/orbits.)
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.app.terminals import read_registry
from skyfence.errors import SkyfenceError
from skyfence.store import Store, load_trusted_checkpoint, loads_strict, normalise_name
from skyfence.store.verify import verify_export

BUDGET = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def export_lines(tmp_path_factory) -> tuple[list[str], str]:
    base = tmp_path_factory.mktemp("fuzz")
    with Store.open(f"sqlite:///{base / 's.db'}", key_dir=base / "keys") as store:
        for i in range(5):
            store.put_terminal({"id": f"T{i}", "n": i}, actor="alice", reason="r")
        store.log.export(base / "log.jsonl")
        return (base / "log.jsonl").read_text().splitlines(), store.log.pubkey()


@BUDGET
@given(raw=st.binary(max_size=400))
def test_export_reader_on_any_bytes(tmp_path, export_lines, raw):
    path = tmp_path / "x.jsonl"
    path.write_bytes(raw)
    try:
        verify_export(path, export_lines[1])
    except SkyfenceError:
        pass


@BUDGET
@given(data=st.data())
def test_export_verifier_on_mutated_records(tmp_path, export_lines, data):
    lines, pem = export_lines
    records = [json.loads(line) for line in lines]
    k = data.draw(st.integers(0, len(records) - 1), label="record")
    record = records[k]
    path_keys = [key for key in record if key != "type"] or ["type"]
    key = data.draw(st.sampled_from(path_keys), label="field")
    if key == "entry" and isinstance(record.get("entry"), dict) and data.draw(st.booleans()):
        inner = data.draw(st.sampled_from(sorted(record["entry"])), label="entry field")
        record["entry"][inner] = data.draw(json_values, label="value")
    else:
        record[key] = data.draw(json_values, label="value")
    path = tmp_path / "m.jsonl"
    try:
        text = "\n".join(json.dumps(r) for r in records) + "\n"
    except ValueError:
        return
    path.write_text(text, encoding="utf-8")
    try:
        report = verify_export(path, pem)
    except SkyfenceError:
        return
    assert isinstance(report.ok, bool)


@pytest.mark.parametrize("value", [1, "k", [1], [{"public_key": 5}], {"a": 1}, None])
def test_header_public_keys_of_any_type(tmp_path, export_lines, value):
    """Found by the fuzzer with a larger budget: a header whose public_keys is not a list."""
    lines, pem = export_lines
    header = json.loads(lines[0])
    header["public_keys"] = value
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    assert verify_export(path, pem).ok  # the header is informative only


@BUDGET
@given(text=st.text(max_size=200))
def test_trusted_checkpoint_text(tmp_path, text):
    if "\x00" in text:
        return
    try:
        load_trusted_checkpoint(text)
    except SkyfenceError:
        pass


@BUDGET
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_strict_json(raw):
    try:
        loads_strict(raw)
    except SkyfenceError:
        pass


@BUDGET
@given(
    content=st.binary(max_size=500)
    | st.lists(
        st.lists(st.text(max_size=10), min_size=1, max_size=7).map(",".join), max_size=6
    ).map(
        lambda rows: (
            "id,country,plan,whitelists,speed_exempt,trip_started\n" + "\n".join(rows)
        ).encode()
    )
    | json_values.map(lambda v: json.dumps(v).encode()),
    suffix=st.sampled_from([".csv", ".json"]),
)
def test_terminal_files(tmp_path, content, suffix):
    path = tmp_path / f"t{suffix}"
    path.write_bytes(content)
    try:
        read_registry(path)
    except SkyfenceError:
        pass


@BUDGET
@given(text=st.text(max_size=60))
def test_names_normalise_to_one_identity(text):
    try:
        name = normalise_name(text)
    except SkyfenceError:
        return
    assert normalise_name(name) == name  # idempotent: a normalised name is its own form
    assert name == name.strip() and "  " not in name
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in name)
    # invisible characters and padding anywhere never make another identity
    for variant in (f" {text}\u200b ", "\u2060".join(text), unicodedata.normalize("NFD", text)):
        assert normalise_name(variant) == name


@BUDGET
@given(text=st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd"]), min_size=1, max_size=20))
def test_case_and_width_make_no_new_identity(text):
    name = normalise_name(text)
    assert normalise_name(text.casefold()) == name
    ascii_text = "".join(c for c in text if c.isascii())
    if ascii_text:
        wide = "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)  # full-width forms
        assert normalise_name(wide) == normalise_name(ascii_text.upper())


def test_terminal_csv_with_a_bare_carriage_return(tmp_path: Path):
    """Found by the fuzzer with a larger budget: csv.Error escaped as an internal error."""
    path = tmp_path / "t.csv"
    path.write_bytes(b"id,country,plan\nT1\r2,UA,fixed\n")
    with pytest.raises(SkyfenceError, match="t.csv"):
        read_registry(path)


def test_terminal_file_that_is_a_directory_or_missing(tmp_path: Path):
    with pytest.raises(SkyfenceError, match="not a regular file"):
        read_registry(tmp_path)
    with pytest.raises(SkyfenceError, match="not a regular file"):
        read_registry(tmp_path / "missing.csv")
