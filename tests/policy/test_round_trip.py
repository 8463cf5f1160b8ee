"""Exact round trips: whatever validates reads back as the same policy, deciding the same.

The store keeps ``canonical_json(policy.to_document())`` and every later command reads it
back with ``Policy.from_document``. Before, ``max_altitude_m: 20000000000000000`` validated
and applied, and then every command failed (the stored ``2e+16`` was read by a YAML 1.1
loader as text), and ``effective_until: 9999-12-31T00:00:00Z`` wrapped to 1816.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import ParseError, SkyfenceError
from skyfence.policy import PLANS, STATES, Policy, Terminal, TerminalRegistry, parse_policy
from skyfence.store.canonical import canonical_json


def stored(policy: Policy) -> Policy:
    """What the store does: canonical JSON bytes, read back later."""
    return Policy.from_document(json.loads(canonical_json(policy.to_document())), source="stored")


def test_large_number_round_trips():
    text = "terminal_rules:\n  - {id: alt, kind: altitude, max_altitude_m: 20000000000000000}\n"
    p = parse_policy(text, "p.yaml")
    assert canonical_json(p.to_document()).count(b"2e+16") == 1
    back = stored(p)
    assert back == p and back.terminal_rules[0].max_altitude_m == 2e16


def test_times_outside_the_engines_range_are_refused():
    for when in ("9999-12-31T00:00:00Z", "1600-01-01T00:00:00Z", "2262-01-01T00:00:00Z"):
        text = f"rules:\n  - id: a\n    region: AA\n    state: suspended\n    effective_until: {when}\n"
        with pytest.raises(ParseError) as err:
            parse_policy(text, "p.yaml")
        assert err.value.line == 5
        assert "out of range: times must lie in the years 1678 to 2261" in str(err.value)
    p = parse_policy("rules: [{id: a, region: AA, state: active, effective_until: 2261-12-31}]")
    assert str(p.rules[0].effective_until) == "2261-12-31T00:00:00.000000000"


def test_sub_millisecond_times_round_trip():
    p = parse_policy(
        "rules: [{id: a, region: AA, state: active, "
        "effective_from: '2026-01-01T00:00:00.123456789+01:00'}]"
    )
    assert str(p.rules[0].effective_from) == "2025-12-31T23:00:00.123456789"
    assert p.to_document()["rules"][0]["effective_from"] == "2025-12-31T23:00:00.123456789Z"
    assert stored(p) == p


# ----------------------------------------------------------------------------- the property
REGIONS = ["AA", "BB", "small", "mid", "twin1", "twin2", "strip", " AA ", "strip\t"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"), max_size=20
)


_NS = st.integers(-9_200_000_000 * 10**9, 9_200_000_000 * 10**9)  # 1678 .. 2261


def time_text(draw, ns):
    """``ns`` (since 1970) as ISO 8601 text in one of the forms people write."""
    dt = _EPOCH + timedelta(microseconds=ns // 1000)
    form = draw(st.sampled_from(["Z", "offset", "date", "ns", "space"]))
    if form == "date":
        return dt.strftime("%Y-%m-%d")
    if form == "offset":
        offset = timezone(timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60))))
        return dt.astimezone(offset).isoformat()
    if form == "ns":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}Z"
    if form == "space":
        return dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


_numbers = st.one_of(
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**300),
    st.sampled_from([20_000_000_000_000_000, 2e16, 1e-5, 5e-324, 0, -0.0, 1.7976931348623157e308]),
)
_plans = st.none() | st.lists(st.sampled_from(PLANS), max_size=3)


def _common(draw, rid):
    doc = {"id": rid}
    window = sorted(draw(st.lists(_NS, min_size=2, max_size=2, unique=True)))
    for key, ns in zip(("effective_from", "effective_until"), window, strict=True):
        if draw(st.booleans()):
            doc[key] = time_text(draw, ns)
    for key in ("reason", "author"):
        if draw(st.booleans()):
            doc[key] = draw(_text)
    if draw(st.booleans()):
        doc["sensitive"] = draw(st.booleans())
    return doc


@st.composite
def documents(draw):
    ids = draw(
        st.lists(
            st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,8}", fullmatch=True),
            unique=True,
            max_size=10,
        )
    )
    n_act = draw(st.integers(0, len(ids)))
    rules = []
    for rid in ids[:n_act]:
        rule = _common(draw, rid)
        rule.update(region=draw(st.sampled_from(REGIONS)), state=draw(st.sampled_from(STATES)))
        rules.append(rule)
    terminal_rules = []
    for rid in ids[n_act:]:
        rule = _common(draw, rid)
        kind = draw(
            st.sampled_from(["whitelist_only", "speed_limit", "altitude", "roaming", "maritime"])
        )
        rule["kind"] = kind
        if kind == "whitelist_only":
            rule["region"] = draw(st.sampled_from(REGIONS))
        elif kind == "speed_limit":
            rule["max_speed_kmh"] = draw(_numbers)
            if draw(st.booleans()):
                rule["region"] = draw(st.sampled_from(REGIONS))
            rule["plans"] = draw(_plans)
            rule["exempt_plans"] = draw(st.lists(st.sampled_from(PLANS), max_size=2))
            rule["honour_speed_exemption"] = draw(st.booleans())
        elif kind == "altitude":
            rule["max_altitude_m"] = draw(_numbers)
            rule["exempt_plans"] = draw(st.lists(st.sampled_from(PLANS), max_size=2))
        elif kind == "roaming":
            rule["max_trip_days"] = draw(_numbers)
            rule["plans"] = draw(_plans)
        else:
            rule["offshore_km"] = draw(_numbers)
            rule["open_sea_state"] = draw(st.none() | st.sampled_from(STATES))
            rule["offshore_plans"] = draw(st.lists(st.sampled_from(PLANS), max_size=3))
        terminal_rules.append(rule)
    doc = {"rules": rules, "terminal_rules": terminal_rules}
    if draw(st.booleans()):
        doc["name"] = draw(_text | st.integers(0, 10**20).map(str))
    if draw(st.booleans()):
        doc["description"] = draw(_text)
    if draw(st.booleans()):
        doc["sensitive_regions"] = draw(st.lists(st.sampled_from(REGIONS), max_size=3))
    if draw(st.booleans()):
        doc["skyfence_policy"] = 1
    return doc


def _table(rng, n=400):
    return {
        "terminal_index": rng.integers(-1, 4, n),
        "lat": rng.uniform(-2, 12, n),
        "lon": rng.uniform(-2, 22, n),
        # 1700 .. 2250, so effective windows anywhere in the range matter
        "time": np.datetime64("1700-01-01", "ns")
        + rng.integers(0, 550 * 365 * 86400, n).astype("timedelta64[s]"),
        "speed_kmh": rng.uniform(0, 300, n),
        "altitude_m": rng.uniform(0, 20_000, n),
    }


_REGISTRY = TerminalRegistry(
    [
        Terminal("T0", "AA", "fixed", whitelists=("AA",)),
        Terminal("T1", "BB", "roam", trip_started="1990-01-01T00:00:00Z"),
        Terminal("T2", "AA", "maritime", speed_exempt=True),
        Terminal("T3", "ZZ", "aviation", whitelists=("strip",)),
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=documents(), form=st.sampled_from(["data", "json", "yaml"]), seed=st.integers(0, 2**32 - 1)
)
def test_whatever_validates_reads_back_the_same(boxes, doc, form, seed):
    try:
        if form == "data":
            policy = Policy.from_document(doc)
        elif form == "json":
            policy = parse_policy(json.dumps(doc), "p.json")
        else:
            policy = parse_policy(yaml.safe_dump(doc, allow_unicode=True), "p.yaml")
    except SkyfenceError:
        return  # not valid (e.g. until before from): the property is about valid documents
    back = stored(policy)
    assert back == policy
    assert back.to_document() == policy.to_document()
    assert canonical_json(back.to_document()) == canonical_json(policy.to_document())
    table = _table(np.random.default_rng(seed))
    a = boxes.compile(policy).decide_batch(table, registry=_REGISTRY)
    b = boxes.compile(back).decide_batch(table, registry=_REGISTRY)
    for name in ("allowed", "state", "region", "rule", "reason", "reasons_mask", "country"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
