"""Policy files: parsing, round trips, and validation errors that name the right line."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyfence.errors import ParseError
from skyfence.policy import (
    STATES,
    ActivationRule,
    Policy,
    check_policy,
    example_names,
    example_text,
    load_example,
    load_policy,
    parse_policy,
)

GOOD = textwrap.dedent(
    """\
    skyfence_policy: 1
    name: test
    sensitive_regions: [small]
    rules:
      - id: aa
        region: AA
        state: active
        effective_from: 2026-01-01T00:00:00Z
      - id: no
        region: NO
        state: denied
        sensitive: true
    terminal_rules:
      - id: sp
        kind: speed_limit
        region: AA
        max_speed_kmh: 75
        exempt_plans: [government]
      - id: m
        kind: maritime
        offshore_km: 22.2
        open_sea_state: active
        offshore_plans: [maritime]
    """
)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle`` (the independent truth)."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_parse_good_policy():
    p = parse_policy(GOOD, "good.yaml")
    assert [r.id for r in p.rules] == ["aa", "no"]
    assert p.rules[0].effective_from == np.datetime64("2026-01-01T00:00:00", "ns")
    # plain YAML NO is Norway, not False
    assert p.rules[1].region == "NO" and p.rules[1].sensitive
    assert p.terminal_rules[0].exempt_plans == ("government",)
    assert p.terminal_rules[1].open_sea_state == "active"
    assert p.sensitive_regions == ("small",)


def test_document_round_trip_and_json_file(tmp_path):
    p = parse_policy(GOOD, "good.yaml")
    doc = p.to_document()
    assert Policy.from_document(json.loads(json.dumps(doc))) == p
    f = tmp_path / "p.json"
    f.write_text(json.dumps(doc, indent=2))
    assert load_policy(f) == p


BAD_CASES = [
    # (description, text, needle on the offending line, fragment of the message)
    (
        "misspelt state",
        GOOD.replace("state: denied", "state: actve"),
        "state: actve",
        "state 'actve' is not one of active, coming_soon, waitlist, pending_licence, "
        "not_licensed, suspended, denied (did you mean 'active'?)",
    ),
    (
        "unknown key",
        GOOD.replace("    sensitive: true", "    sensitve: true"),
        "sensitve",
        "unknown key 'sensitve'",
    ),
    (
        "bad time",
        GOOD.replace("2026-01-01T00:00:00Z", "2026-13-01"),
        "2026-13-01",
        "effective_from '2026-13-01' is not a time",
    ),
    (
        "bad plan",
        GOOD.replace("[government]", "[goverment]"),
        "[goverment]",
        "plan 'goverment' is not one of",
    ),
    (
        "negative number",
        GOOD.replace("max_speed_kmh: 75", "max_speed_kmh: -5"),
        "max_speed_kmh",
        "max_speed_kmh must be a finite number >= 0",
    ),
    (
        "duplicate id",
        GOOD.replace("id: no", "id: aa"),
        "region: NO",
        "rule id 'aa' is already used",
    ),
    (
        "bad kind",
        GOOD.replace("kind: maritime", "kind: marine"),
        "kind: marine",
        "kind 'marine' is not one of",
    ),
    (
        "bad open sea state",
        GOOD.replace("open_sea_state: active", "open_sea_state: on"),
        "open_sea_state",
        "open_sea_state 'on' is not one of",
    ),
    (
        "duplicate key",
        GOOD.replace("    state: denied\n", "    state: denied\n    state: waitlist\n"),
        "state: waitlist",
        "key 'state' appears twice",
    ),
    (
        "yaml syntax",
        GOOD.replace("exempt_plans: [government]", "exempt_plans: [government"),
        "offshore_km",
        "invalid YAML",
    ),
    (
        "boolean sensitive",
        GOOD.replace("sensitive: true", "sensitive: maybe"),
        "sensitive: maybe",
        "sensitive must be true or false",
    ),
]


@pytest.mark.parametrize("desc,text,needle,fragment", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_errors_name_the_line(desc, text, needle, fragment):
    with pytest.raises(ParseError) as err:
        parse_policy(text, "policy.yaml")
    if desc == "duplicate id":
        expected = line_of(text, "region: NO") - 1  # the second "id: aa"
    elif desc == "yaml syntax":
        expected = err.value.line  # PyYAML reports where it noticed; check it is near
        assert line_of(text, "[government") <= expected <= line_of(text, "[government") + 2
    else:
        expected = line_of(text, needle)
    assert err.value.line == expected
    assert str(err.value).startswith(f"policy.yaml line {expected}: ")
    assert fragment in str(err.value)


def test_missing_required_key_points_at_rule():
    text = GOOD.replace("    region: AA\n    state: active\n", "    state: active\n", 1)
    with pytest.raises(ParseError) as err:
        parse_policy(text, "p.yaml")
    assert err.value.line == line_of(text, "- id: aa")
    assert "rule 1 needs 'region'" in str(err.value)


def test_all_problems_are_listed():
    text = GOOD.replace("state: denied", "state: x").replace(
        "max_speed_kmh: 75", "max_speed_kmh: fast"
    )
    _, problems = check_policy(text, "p.yaml")
    assert [p.line for p in problems] == [line_of(text, "state: x"), line_of(text, "max_speed_kmh")]
    with pytest.raises(ParseError, match=r"1 more problem"):
        parse_policy(text, "p.yaml")


def test_json_syntax_error_line():
    text = '{\n  "rules": [\n    {"id": "a", "region": "AA", "state": "active"},\n  ]\n}\n'
    with pytest.raises(ParseError) as err:
        parse_policy(text, "p.json")
    assert err.value.line == 4 and "invalid JSON" in str(err.value)


def test_json_validation_error_line():
    text = '{\n  "rules": [\n    {"id": "a",\n     "region": "AA",\n     "state": "on"}\n  ]\n}\n'
    with pytest.raises(ParseError) as err:
        parse_policy(text, "p.json")
    assert err.value.line == 5


def test_region_resolution_errors_name_the_line():
    def resolve(expr):
        if expr != "AA":
            from skyfence.errors import NotFoundError

            raise NotFoundError(f"no region {expr!r}")
        return object()

    _, problems = check_policy(GOOD, "p.yaml", resolve=resolve)
    lines = sorted(p.line for p in problems)
    assert lines == [line_of(GOOD, "sensitive_regions"), line_of(GOOD, "region: NO")]
    assert any("region 'NO': no region 'NO'" in str(p) for p in problems)


def test_window_must_be_ordered():
    text = "rules:\n  - id: a\n    region: AA\n    state: active\n    effective_from: 2026-02-01T00:00:00Z\n    effective_until: 2026-01-01T00:00:00Z\n"
    with pytest.raises(ParseError) as err:
        parse_policy(text, "p.yaml")
    assert err.value.line == 6


def test_empty_file():
    with pytest.raises(ParseError, match="empty"):
        parse_policy("", "p.yaml")


def test_examples_parse():
    assert {"ukraine-2026", "taiwan-activation"} <= set(example_names())
    for name in example_names():
        p = load_example(name)
        assert p.name == name
        assert example_text(name).startswith("# skyfence example policy")


_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_times = st.one_of(
    st.none(),
    st.integers(1_600_000_000, 1_900_000_000).map(
        lambda s: np.datetime64(s, "s").astype("datetime64[ns]")
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            _ids,
            st.sampled_from(["AA", "BB", "AA - small", "NO"]),
            st.sampled_from(STATES),
            _times,
            st.booleans(),
        ),
        max_size=6,
        unique_by=lambda r: r[0],
    )
)
def test_round_trip_any_rules(rules):
    p = Policy(
        rules=tuple(
            ActivationRule(i, reg, s, effective_from=t, sensitive=b) for i, reg, s, t, b in rules
        )
    )
    assert Policy.from_document(p.to_document()) == p
