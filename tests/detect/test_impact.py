"""Rule impact reconciles with the decision engine, and counts terminal-hours by hand."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.detect import build_tracks
from skyfence.detect.impact import plot_impact, policy_variant, rule_impact
from skyfence.detect.scenario import simulate
from skyfence.detect.testing import telemetry, trace
from skyfence.errors import InputError
from skyfence.policy import load_example, parse_policy


def test_hours_and_terminals_cut_by_hand(boxes):
    base = parse_policy("rules: [{id: aa, region: AA, state: active}]")
    late = parse_policy(
        "rules: [{id: aa, region: AA, state: active},"
        " {id: off, region: AA, state: suspended, effective_from: '2026-03-01T01:00:00Z'}]"
    )
    tel = telemetry(
        trace("home", np.full(13, 5.0), np.full(13, 5.0), step_min=10),  # 00:00 .. 02:00
        trace("van", np.full(13, 5.0), np.full(13, 15.0), step_min=10),  # not in AA
    )
    rep = rule_impact(
        build_tracks(tel),
        {"base": boxes.history(base), "late": boxes.history(late)},
        boxes.registry,
        misuse=["home"],
    )
    b, lt = rep.candidates
    assert (b.denied_reports, b.terminals, b.hours) == (
        13,
        1,
        pytest.approx(13 / 6),
    )  # van: BB unlisted
    assert b.misuse_terminals == 0 and b.legit_terminals == 1
    # 'late' also cuts home from 01:00: 7 reports, 6 intervals of 10 min + the last one's 10 min
    assert lt.denied_reports == 20 and lt.terminals == 2
    assert lt.misuse_hours == pytest.approx(70 / 60) and lt.misuse_terminals == 1
    assert rep.hours == pytest.approx(26 / 6)


def test_replaying_a_policy_through_decide_batch_gives_the_same_denials(tmp_path):
    sc = simulate(seed=7, terminals=60, days=3, start="2026-01-30T00:00:00Z")
    tracks = build_tracks(sc.telemetry)
    p = sc.policy
    cands = {"shipped": p, "120": policy_variant(p, max_speed_kmh=120)}
    rep = rule_impact(tracks, cands, sc.registry, misuse=sc.misuse(), truth_misuse=sc.misuse())
    tel = tracks.telemetry
    for name, policy in cands.items():
        direct = policy.compile().decide_batch(
            {
                "terminal_id": tel.ids(),
                "lat": tel.latitude_deg,
                "lon": tel.longitude_deg,
                "time": tel.times,
                "speed_kmh": tracks.speed_kmh,
                "altitude_m": tel.altitude_m,
            },
            registry=sc.registry,
            trips_from_history=True,
        )
        np.testing.assert_array_equal(rep.denied[name], ~direct.allowed)
        c = next(c for c in rep.candidates if c.name == name)
        cut = set(tel.ids(np.flatnonzero(~direct.allowed)).tolist())
        assert c.terminals == len(cut)
        assert c.misuse_terminals == len(cut & sc.misuse())
        assert c.truth["legit_terminals"] == len(cut - sc.misuse())
    shipped, faster = rep.candidates
    assert faster.denied_by_reason.get("speed", 0) < shipped.denied_by_reason["speed"]
    assert faster.terminals <= shipped.terminals
    png = plot_impact(rep, tmp_path / "impact.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_policy_variants():
    p = load_example("ukraine-2026")
    assert policy_variant(p, max_speed_kmh=120).rule("ua-speed-75").max_speed_kmh == 120
    assert policy_variant(p, max_speed_kmh=120).rule("roam-speed-160").max_speed_kmh == 160
    assert not any(
        r.kind == "whitelist_only" for r in policy_variant(p, whitelist=False).terminal_rules
    )
    off = policy_variant(p, switch_off="crimea")
    assert off.rule("impact-switch-off").state == "suspended"
    with pytest.raises(InputError, match="no speed rule"):
        policy_variant(p, max_speed_kmh=1, speed_rule="nope")


def test_bad_impact_arguments(boxes):
    tracks = build_tracks(telemetry(trace("a", [1.0], [1.0])))
    with pytest.raises(InputError, match="at least one candidate"):
        rule_impact(tracks, {})
    with pytest.raises(InputError, match="reference 'x'"):
        rule_impact(tracks, {"a": boxes.history()}, reference="x", misuse=[])
