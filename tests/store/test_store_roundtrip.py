"""What the store keeps is exactly what was applied, or nothing: a property over the policy
schema (states, windows, numbers of every size, plans, flags). A policy that validates but
would not read back identically is refused before anything is written, so no valid policy
can leave the store unreadable."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError
from skyfence.policy import PLANS, STATES, Policy

numbers = st.one_of(
    st.integers(0, 10**20),
    st.floats(0, 1e30, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1e-5, 2e16, 20000000000000000, 1e16 - 1, 123456789.123456789]),
)
times = st.datetimes(
    min_value=datetime(1700, 1, 1), max_value=datetime(2260, 12, 31), timezones=st.just(UTC)
).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
regions = st.sampled_from(["UA", "PL", "PL | SK", "crimea", "RU - crimea"])


@st.composite
def documents(draw):
    rules = []
    for i in range(draw(st.integers(0, 3))):
        rule = {"id": f"r{i}", "region": draw(regions), "state": draw(st.sampled_from(STATES))}
        if draw(st.booleans()):
            rule["effective_from"] = draw(times)
        rules.append(rule)
    terminal_rules = []
    kinds = {
        "speed_limit": "max_speed_kmh",
        "altitude": "max_altitude_m",
        "roaming": "max_trip_days",
        "maritime": "offshore_km",
    }
    for i in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(sorted(kinds)))
        rule = {"id": f"t{i}", "kind": kind, kinds[kind]: draw(numbers)}
        if kind != "maritime" and draw(st.booleans()):
            rule["exempt_plans"] = draw(st.lists(st.sampled_from(PLANS), max_size=2, unique=True))
        terminal_rules.append(rule)
    return {"name": draw(st.text(max_size=10)), "rules": rules, "terminal_rules": terminal_rules}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=documents())
def test_stored_exactly_or_refused(store, document):
    try:
        policy = Policy.from_document(document)
    except InputError:
        return  # not a valid policy: nothing to keep
    base = store.state().policy_version
    size = store.log.size()
    try:
        store.apply_policy(
            policy, actor="alice", reason="r", base_version=base, request_review=False
        )
    except InputError as exc:
        assert "read back" in str(exc) or "reads back" in str(exc), exc
        assert store.log.size() == size  # refused before anything was written
        return
    except Exception as exc:  # identical to the version in force: nothing new to keep
        assert "identical" in str(exc), exc
        return
    found = store.policy_in_force()
    if found is None:  # a sensitive change waits; its logged request holds the document
        request = store.change_request(store.pending_changes()[-1].id)
        kept = request.document
    else:
        kept = found.document
    assert kept == policy.to_document()
    assert Policy.from_document(kept) == policy


def test_canonical_json_refuses_lone_surrogates():
    """Found by the property above: a name that the policy loader turned into a surrogate
    pair (U+10000 read back as '\\ud800\\udc00') escaped canonical_json as a
    UnicodeEncodeError."""
    import pytest

    from skyfence.store import canonical_json

    with pytest.raises(InputError, match="canonical JSON"):
        canonical_json({"name": "\ud800\udc00"})
