"""Policy text from people and files one does not control: bounded, and only project errors.

Each case here broke the loader before: an alias bomb ran past 30 s and 2 GB, control
characters and deep nesting gave internal errors, an empty policy raised IndexError.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError, ParseError, SkyfenceError
from skyfence.policy import Policy, check_policy, example_text, parse_policy

# the classic "billion laughs": 9 ** 9 strings from 9 lines (430 bytes)
ALIAS_BOMB = (
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
    "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
    "rules: *i\n"
)
EXAMPLE = example_text("ukraine-2026")


def test_alias_bomb_is_refused_fast():
    assert 400 <= len(ALIAS_BOMB.encode()) <= 440
    start = time.perf_counter()
    with pytest.raises(ParseError) as err:
        parse_policy(ALIAS_BOMB, "bomb.yaml")
    assert time.perf_counter() - start < 2.0
    assert err.value.line == 2  # the first alias, *a on line 2
    assert "aliases (*a) are not allowed" in str(err.value)
    # `policy validate` reads through check_policy: the same answer, as a listed problem
    start = time.perf_counter()
    policy, problems = check_policy(ALIAS_BOMB, "bomb.yaml")
    assert policy is None and [p.line for p in problems] == [2]
    assert time.perf_counter() - start < 2.0


def test_recursive_alias_is_a_clean_parse_error():
    with pytest.raises(ParseError, match=r"p.yaml line 1: YAML aliases \(\*r\)"):
        parse_policy("rules: &r [*r]\n", "p.yaml")


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f"])
def test_control_characters_name_their_line(char):
    lines = EXAMPLE.splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if "region: crimea" in line)
    lines[target] = lines[target].replace("crimea", "cri" + char + "mea")
    with pytest.raises(ParseError) as err:
        parse_policy("".join(lines), "ua.yaml")
    assert err.value.line == target + 1
    assert f"U+{ord(char):04X}" in str(err.value) and "column" in str(err.value)


def test_control_characters_in_json_strings_are_refused():
    doc = {"rules": [{"id": "a", "region": "UA", "state": "active", "reason": "a\x00b"}]}
    text = json.dumps(doc, indent=1)  # written as \u0000: valid JSON, not a valid policy
    with pytest.raises(ParseError, match=r"reason contains the character U\+0000"):
        parse_policy(text, "p.json")
    with pytest.raises(ParseError, match=r"U\+0000"):
        Policy.from_document(doc)


def test_deep_json_is_a_parse_error_not_recursion():
    text = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ParseError, match="nested 100000 deep; at most 64") as err:
        parse_policy(text, "deep.json")
    assert err.value.line == 1
    text = '{"rules":\n' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ParseError) as err:
        parse_policy(text, "deep.json")
    assert err.value.line == 2


def test_deep_yaml_is_a_parse_error_not_recursion():
    for depth in (100, 100_000):  # libyaml stops at 1,000 levels itself, the loader at 64
        text = "name: x\nrules: " + "[" * depth + "]" * depth + "\n"
        with pytest.raises(ParseError, match="nest") as err:
            parse_policy(text, "deep.yaml")
        assert err.value.line == 2


def test_deep_document_data_is_an_input_error():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InputError, match="nested more than 64 levels"):
        Policy.from_document({"rules": deep})


def test_long_yaml_is_refused_before_parsing():
    text = "description: " + "x" * (4 * 1024 * 1024) + "\n"
    with pytest.raises(ParseError, match="at most 4,194,304 are read"):
        parse_policy(text, "big.yaml")


def test_other_yaml_tags_and_documents_are_refused():
    with pytest.raises(ParseError, match="tag tag:yaml.org,2002:python/object"):
        parse_policy("rules: !!python/object:os.system []\n")
    with pytest.raises(ParseError, match="one YAML document") as err:
        parse_policy("rules: []\n---\nrules: []\n")
    assert err.value.line == 2
    with pytest.raises(ParseError, match="mapping keys must be plain text") as err:
        parse_policy("rules: []\n? [a, b]\n: c\n")
    assert err.value.line == 2


def test_huge_integers_are_numbers_or_clean_errors():
    p = parse_policy(
        "terminal_rules: [{id: a, kind: altitude, max_altitude_m: 1" + "0" * 300 + "}]"
    )
    assert p.terminal_rules[0].max_altitude_m == 1e300
    with pytest.raises(ParseError, match="max_altitude_m must be a finite number"):
        parse_policy(
            "terminal_rules: [{id: a, kind: altitude, max_altitude_m: 1" + "0" * 400 + "}]"
        )
    digits = "9" * 5000  # more digits than Python converts to int
    with pytest.raises(ParseError):
        parse_policy(
            '{"terminal_rules": [{"id": "a", "kind": "altitude", "max_altitude_m": '
            + digits
            + "}]}"
        )


def test_yaml_numbers_without_a_decimal_point_are_numbers():
    # YAML 1.1 reads 2e+16 as text; a number field takes it as the number it is
    p = parse_policy("terminal_rules: [{id: a, kind: altitude, max_altitude_m: 2e+16}]")
    assert p.terminal_rules[0].max_altitude_m == 2e16
    with pytest.raises(ParseError, match="must be a finite number"):
        parse_policy("terminal_rules: [{id: a, kind: altitude, max_altitude_m: '2e+16'}]")


# ----------------------------------------------------------------------------- empty policy
def test_an_empty_policy_decides_default_deny(boxes):
    for fast in (True, False):
        cp = boxes.compile(Policy())
        cp.fast_path = fast
        d = cp.decide("T1", 5.0, 5.0, "2026-03-01T00:00:00Z")
        assert (d.allowed, d.state, d.reason, d.rule_id) == (
            False,
            "not_licensed",
            "region_state",
            None,
        )
        assert d.reasons[0].startswith("region_state: no rule covers this place")
    out = boxes.compile(Policy()).decide_batch(
        {
            "lat": np.array([5.0, 50.0, np.nan]),
            "lon": np.array([5.0, 50.0, 0.0]),
            "time": "2026-03-01",
        }
    )
    assert out.allowed.tolist() == [False, False, False]
    assert out.state_names().tolist() == ["not_licensed", "not_licensed", "invalid_input"]
    assert out.reason_names().tolist() == ["region_state", "region_state", "invalid_input"]


def test_a_policy_of_terminal_rules_only_decides(boxes):
    cp = boxes.compile(
        parse_policy("terminal_rules: [{id: s, kind: speed_limit, max_speed_kmh: 10}]")
    )
    out = cp.decide_batch({"lat": [5.0], "lon": [5.0], "time": "2026-03-01", "speed_kmh": [50.0]})
    assert out.reason_names().tolist() == ["region_state"]
    assert bin(int(out.reasons_mask[0])).count("1") == 2  # region_state and speed


# ----------------------------------------------------------------------------- fuzzing
_YAML_BITS = [
    "rules:",
    "terminal_rules:",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\n",
    "  ",
    "&a",
    "*a",
    "!!str",
    "!!binary",
    "|",
    ">",
    "#",
    "'",
    '"',
    "?",
    "---",
    "...",
    "id: a",
    "region: UA",
    "state: active",
    "kind: altitude",
    "max_altitude_m: ",
    "1e5",
    "2e+16",
    "-1",
    ".inf",
    "effective_from: ",
    "9999-12-31T00:00:00Z",
    "2026-01-01",
    "\t",
    "\x00",
    "\x01",
    "\x7f",
    "\ud800",
    "é",
    "\\",
    "%YAML 1.1",
    "<<: ",
    "~",
    "null",
    "true",
    "NO",
]


def _mutated_example(draw_ops: list[tuple[int, str, int]]) -> str:
    text = EXAMPLE
    for pos, insert, delete in draw_ops:
        p = pos % (len(text) + 1)
        text = text[:p] + insert + text[p + delete :]
    return text


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(_YAML_BITS), st.integers(0, 8)),
        min_size=1,
        max_size=6,
    )
)
def test_fuzzed_yaml_raises_only_project_errors(ops):
    text = _mutated_example(ops)
    try:
        parse_policy(text, "fuzz.yaml")
    except SkyfenceError:
        pass
    policy, problems = check_policy(text, "fuzz.yaml")
    assert (policy is None) == bool(problems)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_YAML_BITS), max_size=40).map("".join))
def test_fuzzed_text_raises_only_project_errors(text):
    try:
        parse_policy(text, "fuzz")
    except SkyfenceError:
        pass


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["UA", "active", "altitude", "whitelist_only", "2026-01-01", "fixed"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "rules",
                    "terminal_rules",
                    "id",
                    "region",
                    "state",
                    "kind",
                    "plans",
                    "max_speed_kmh",
                    "effective_from",
                    "name",
                    "sensitive",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=250, deadline=None)
@given(_json_values)
def test_fuzzed_documents_raise_only_project_errors(data):
    try:
        Policy.from_document(data if isinstance(data, dict) else {"rules": data})
    except SkyfenceError:
        pass
    try:
        parse_policy(json.dumps(data), "fuzz.json")
    except SkyfenceError:
        pass


def test_policy_files_must_be_regular_files(tmp_path):
    from skyfence.errors import NotFoundError
    from skyfence.policy import load_policy

    start = time.perf_counter()
    with pytest.raises(ParseError, match="policy file must be a regular file"):
        load_policy("/dev/zero")
    assert time.perf_counter() - start < 0.5
    with pytest.raises(NotFoundError, match="does not exist"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ParseError, match="not UTF-8"):
        load_policy(bad)
