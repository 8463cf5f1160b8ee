"""Hand-built traces for each detector's edge cases, on the box geography of conftest."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.detect import DetectOptions, build_tracks, detect
from skyfence.detect.testing import T0, km_to_deg, telemetry, trace
from skyfence.policy import parse_policy


def run(boxes, *traces, kinds, history=None, registry=None, **opts):
    tel = telemetry(*traces)
    options = DetectOptions(kinds=tuple(kinds), **opts)
    return detect(tel, history or boxes.history(), registry or boxes.registry, options=options)


def of(report, kind, tid=None):
    return [f for f in report.findings if f.kind == kind and (tid is None or tid in f.terminal_ids)]


# ----------------------------------------------------------------------------- speed
def test_a_single_gps_jump_is_not_a_drone(boxes):
    lat = np.full(40, 4.15)
    lon = np.full(40, 4.15)
    lat[20], lon[20] = 3.9, 3.9  # 39 km away, into the switched-off 'front', and back
    tel = telemetry(trace("home", lat, lon))
    tracks = build_tracks(tel)
    assert tracks.jump.tolist() == [i == 20 for i in range(40)]
    assert np.nanmax(tracks.speed_kmh) < 1.0
    report = run(
        boxes, trace("home", lat, lon), kinds=["speed", "service-area", "impossible-travel"]
    )
    assert report.findings == []


def test_a_drone_is_a_drone(boxes):
    step = km_to_deg(12.5)  # 12.5 km every 5 minutes = 150 km/h
    lat = 1.0 + step * np.arange(10)
    report = run(boxes, trace("drone", lat, np.full(10, 5.0)), kinds=["speed"])
    (f,) = of(report, "speed")
    assert f.rule_id == "sp75" and f.details["limit"] == 75.0
    assert f.details["peak_speed_kmh"] == pytest.approx(150.0, abs=0.05)
    assert f.details["reports"] == 10


def test_a_drone_with_one_jump_is_still_found(boxes):
    step = km_to_deg(12.5)
    lat = 1.0 + step * np.arange(12)
    lon = np.full(12, 5.0)
    lon[6] += 0.5  # a 55 km jump sideways in the middle of the flight
    report = run(boxes, trace("drone", lat, lon), kinds=["speed"])
    (f,) = of(report, "speed")
    assert f.details["peak_speed_kmh"] == pytest.approx(150.0, abs=0.05)


@pytest.mark.parametrize("speed,found", [(75.0, False), (75.01, True), (74.99, False)])
def test_a_terminal_exactly_at_the_limit_is_not_over_it(boxes, speed, found):
    tr = trace("van", np.full(6, 5.0), np.full(6, 5.0), speed_kmh=np.full(6, speed))
    assert bool(of(run(boxes, tr, kinds=["speed"]), "speed")) is found


def test_computed_speed_exactly_at_the_limit_is_not_over_it(boxes):
    # 6.25 km in 5 minutes = 75 km/h; a hair more per step is over
    for km, found in ((6.25, False), (6.26, True)):
        lat = 1.0 + km_to_deg(km) * np.arange(8)
        report = run(boxes, trace("van", lat, np.full(8, 5.0)), kinds=["speed"])
        assert bool(of(report, "speed")) is found, km


def test_exempt_plans_are_not_over_the_limit(boxes):
    tr = trace("gov", np.full(6, 5.0), np.full(6, 5.0), speed_kmh=np.full(6, 140.0))
    assert of(run(boxes, tr, kinds=["speed"]), "speed") == []


def test_altitude_beyond_the_plan(boxes):
    high = np.full(4, 5000.0)
    found = run(
        boxes,
        trace("home", np.full(4, 5.0), np.full(4, 5.0), altitude_m=high),
        trace("plane", np.full(4, 5.0), np.full(4, 15.0), altitude_m=high * 2),
        kinds=["altitude"],
    )
    (f,) = of(found, "altitude")
    assert f.terminal_ids == ("home",) and f.rule_id == "alt" and f.details["limit"] == 3000.0


# ----------------------------------------------------------------------------- policy in force
def test_a_policy_change_mid_trace_applies_from_its_time_on(boxes):
    on = parse_policy(
        "rules: [{id: aa, region: AA, state: active}, {id: bb, region: BB, state: active}]"
    )
    off = parse_policy(
        "rules: [{id: aa-off, region: AA, state: suspended}, {id: bb, region: BB, state: active}]"
    )
    change = T0 + np.timedelta64(2, "h")
    history = boxes.history(versions=[(T0 - np.timedelta64(1, "D"), on, 1), (change, off, 2)])
    tr = trace("home", np.full(25, 5.0), np.full(25, 5.0), step_min=10)  # T0 .. T0+4h
    report = run(boxes, tr, kinds=["service-area"], history=history)
    (f,) = of(report, "service-area")
    assert f.start == "2026-03-01T02:00:00Z"  # the first report at the change itself
    assert f.end == "2026-03-01T04:00:00Z"
    assert (f.policy_version, f.rule_id, f.details["reports"]) == (2, "aa-off", 13)
    assert report.versions == [1, 2]


def test_reports_before_the_first_version_are_not_decided(boxes):
    on = parse_policy("rules: [{id: aa, region: AA, state: suspended}]")
    history = boxes.history(versions=[(T0 + np.timedelta64(1, "h"), on, 7)])
    tr = trace("home", np.full(24, 5.0), np.full(24, 5.0), step_min=5)  # T0 .. T0+1h55
    report = run(boxes, tr, kinds=["service-area"], history=history)
    assert report.undecided_rows == 12 and report.first_version_at == "2026-03-01T01:00:00Z"
    (f,) = of(report, "service-area")
    assert f.start == "2026-03-01T01:00:00Z" and f.policy_version == 7


def test_a_rule_window_inside_one_policy_applies_from_its_time_on(boxes):
    policy = parse_policy(
        """
rules:
  - {id: aa, region: AA, state: active}
  - {id: aa-off, region: AA, state: suspended, effective_from: "2026-03-01T02:00:00Z"}
"""
    )
    tr = trace("home", np.full(25, 5.0), np.full(25, 5.0), step_min=10)
    (f,) = of(run(boxes, tr, kinds=["service-area"], history=boxes.history(policy)), "service-area")
    assert (f.start, f.rule_id, f.policy_version) == ("2026-03-01T02:00:00Z", "aa-off", None)


# ----------------------------------------------------------------------------- border shuttle
def _shuttle(tid, legs, *, step_min=10.0, stay_h=3.0, kmh=30.0, altitude=None):
    """A trace visiting ``legs`` (lat, lon) in turn, staying ``stay_h`` at each."""
    from skyfence.geodesy import great_circle_km

    lat, lon = [], []
    per_stay = int(stay_h * 60 / step_min)
    for i, (a, b) in enumerate(legs):
        lat += [a] * per_stay
        lon += [b] * per_stay
        if i + 1 < len(legs):
            c, d = legs[i + 1]
            km = float(great_circle_km(a, b, c, d))
            n = max(int(km / kmh * 60 / step_min), 1)
            f = np.arange(1, n) / n
            lat += list(a + (c - a) * f)
            lon += list(b + (d - b) * f)
    alt = None if altitude is None else np.full(len(lat), altitude)
    return trace(tid, lat, lon, step_min=step_min, altitude_m=alt)


def test_a_ferry_crossing_is_not_border_shuttling(boxes):
    aa, sea, bb = (9.9, 9.0), (10.6, 10.0), (9.9, 11.0)
    ferry = _shuttle("ferry", [aa, sea, bb, sea, aa, sea, bb, sea, aa, sea, bb])
    road = _shuttle("van", [aa, bb, aa, bb, aa, bb])
    report = run(boxes, ferry, road, kinds=["border-shuttle"], shuttle_borders="all")
    (f,) = of(report, "border-shuttle")
    assert f.terminal_ids == ("van",) and f.details["crossings"] == 5


def test_a_flight_is_not_border_shuttling(boxes):
    a, b = (5.0, 5.0), (5.0, 15.0)
    plane = _shuttle("plane", [a, b, a, b, a, b], step_min=2.0, kmh=800.0, altitude=10000.0)
    report = run(boxes, plane, kinds=["border-shuttle"], shuttle_borders="all")
    assert of(report, "border-shuttle") == []


def test_shuttling_across_the_front_line(boxes):
    inside, outside = (3.5, 3.5), (4.5, 4.5)
    walker = _shuttle("van", [outside, inside, outside, inside, outside], stay_h=8.0)
    report = run(boxes, walker, kinds=["border-shuttle", "service-area"])
    (f,) = of(report, "border-shuttle")
    assert f.details["crossings"] == 4 and (f.region, f.rule_id) == ("front", "front-off")
    assert len(of(report, "service-area")) == 2  # the two stays in 'front'
    # an ordinary border between two served countries does not count by default
    road = _shuttle("van", [(5.0, 9.5), (5.0, 10.5)] * 3)
    assert of(run(boxes, road, kinds=["border-shuttle"]), "border-shuttle") == []


def test_gps_noise_at_a_border_is_not_shuttling(boxes):
    rng = np.random.default_rng(0)
    n = 600  # two days every 5 minutes on the AA/front border, noise ~30 m
    lat = 4.0 + rng.normal(0, km_to_deg(0.03), n)
    lon = np.full(n, 3.0)
    report = run(boxes, trace("home", lat, lon), kinds=["border-shuttle"])
    assert of(report, "border-shuttle") == []


# ----------------------------------------------------------------------------- dark gaps
def _gap_trace(tid, lat, lon, silent_h):
    before = T0 + (np.arange(12) * 5 * 60e9).astype("timedelta64[ns]")
    after = (
        before[-1]
        + np.timedelta64(int(silent_h * 3600), "s")
        + (np.arange(12) * 5 * 60e9).astype("timedelta64[ns]")
    )
    times = np.concatenate([before, after])
    return trace(tid, np.full(24, lat), np.full(24, lon), times=times)


def test_dark_gap_near_where_service_is_off(boxes):
    near = _gap_trace("home", 4.1, 4.1, 20)  # 11-16 km from 'front'
    far = _gap_trace("van", 7.0, 7.0, 20)
    short = _gap_trace("trip", 4.1, 4.1, 6)
    report = run(boxes, near, far, short, kinds=["dark-gap"])
    (f,) = of(report, "dark-gap")
    assert f.terminal_ids == ("home",) and (f.rule_id, f.region) == ("front-off", "front")
    assert f.details["gap_hours"] == pytest.approx(20 + 55 / 60 - 55 / 60, abs=0.01)
    assert 0 < f.details["denied_probe_share"] < 0.5


# ----------------------------------------------------------------------------- impossible travel
def test_two_devices_with_one_identity(boxes):
    lat = np.where(np.arange(20) % 2 == 0, 5.0, 8.0)  # 333 km apart, every 5 minutes
    report = run(boxes, trace("home", lat, lat), kinds=["impossible-travel"])
    (f,) = of(report, "impossible-travel")
    assert f.details["impossible_steps"] == 19


def test_a_device_that_keeps_jumping_to_one_place(boxes):
    lat = np.full(100, 5.0)
    lat[[10, 40, 70]] = 8.0  # three single reports from one far place
    report = run(boxes, trace("home", lat, np.full(100, 5.0)), kinds=["impossible-travel"])
    (f,) = of(report, "impossible-travel")
    assert f.details["repeated_jumps"] == 3


def test_single_and_double_jumps_are_not_impossible_travel(boxes):
    lat = np.full(100, 5.0)
    lat[10] = 5.4
    lat[50:52] = [6.0, 6.3]  # two bad reports in a row
    report = run(boxes, trace("home", lat, np.full(100, 5.0)), kinds=["impossible-travel"])
    assert report.findings == []


# ----------------------------------------------------------------------------- clusters
def _group(prefix, ids, lat, lon, spread_km=0.5, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for tid in ids:
        d = km_to_deg(spread_km)
        out.append(trace(tid, lat + rng.uniform(-d, d, 6), lon + rng.uniform(-d, d, 6)))
    return out


def test_a_cluster_of_unregistered_terminals(boxes):
    unreg = _group("u", [f"u{i}" for i in range(6)], 5.0, 5.0)
    registered = _group("ok", [f"ok{i}" for i in range(6)], 6.0, 6.0)
    few = _group("v", [f"v{i}" for i in range(4)], 7.0, 7.0)
    scattered = [trace(f"s{i}", np.full(6, 1.0 + i), np.full(6, 8.0)) for i in range(6)]
    report = run(boxes, *unreg, *registered, *few, *scattered, kinds=["unregistered-cluster"])
    (f,) = of(report, "unregistered-cluster")
    assert f.terminal_ids == tuple(f"u{i}" for i in range(6)) and f.rule_id == "wl"
    assert f.details["radius_km"] < 1.0


# ----------------------------------------------------------------------------- roaming
def test_roaming_longer_than_the_plan_allows(boxes):
    report = run(
        boxes,
        trace("away", np.full(6, 5.0), np.full(6, 15.0)),  # day 91 of its trip in BB
        trace("trip", np.full(6, 5.0), np.full(6, 15.0)),  # day 5
        trace("home", np.full(6, 5.0), np.full(6, 5.0)),
        kinds=["roaming"],
    )
    (f,) = of(report, "roaming")
    assert f.terminal_ids == ("away",) and f.rule_id == "trip"
    assert f.details["home_country"] == "AA" and f.details["country"] == "BB"


def test_every_finding_carries_its_evidence(boxes):
    tr = trace("stranger", np.full(10, 5.0), np.full(10, 5.0))  # unregistered in AA
    (f,) = run(boxes, tr, kinds=["service-area"]).findings
    assert f.rule_id == "wl" and f.region == "AA" and f.details["reason"] == "whitelist"
    assert [fx["line"] for fx in f.fixes] == [1, 3, 5, 7, 10]
    assert f.fixes[0]["time"] == "2026-03-01T00:00:00Z" and 0 < f.score < 1


def test_empty_and_single_report_telemetry(boxes):
    from skyfence.detect import Telemetry

    empty = Telemetry.from_columns([], np.array([], "datetime64[ns]"), [], [])
    report = detect(empty, boxes.history(), boxes.registry)
    assert (report.rows, report.findings) == (0, [])
    one = run(boxes, trace("stranger", [5.0], [5.0]), kinds=list(DetectOptions().kinds))
    assert one.rows == 1 and one.findings == []  # one report is no run of two
