"""The scenario generator: deterministic, realistic, labels kept apart; and the published
benchmark floors of precision and recall per detector on fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.detect import detect, read_telemetry
from skyfence.detect.evaluate import classes_from_labels, evaluate
from skyfence.detect.scenario import CLASSES, simulate, write_scenario
from skyfence.errors import InputError
from skyfence.geodesy import great_circle_km

#: The benchmark of docs/detect.md: 300 terminals, 8 days over both rule changes.
BENCH = {"terminals": 300, "days": 8, "start": "2026-01-26T00:00:00Z"}


@pytest.fixture(scope="module", params=[1, 2])
def scored(request, real_world):
    sc = simulate(seed=request.param, **BENCH)
    report = detect(sc.telemetry, sc.policy, sc.registry)
    return sc, report, evaluate(report, sc.classes)


@pytest.fixture(scope="session")
def real_world():
    from skyfence.regions import world

    w = world()
    w.index()
    return w


@pytest.mark.slow
def test_published_floors(scored):
    _, _, scores = scored
    assert scores["speed"].recall >= 0.95, scores["speed"]
    assert scores["unregistered-cluster"].precision >= 0.9, scores["unregistered-cluster"]
    assert scores["service-area"].precision >= 0.9, scores["service-area"]
    assert scores["service-area"].recall >= 0.9, scores["service-area"]
    for kind, s in scores.items():  # every detector finds most of what it is built for
        assert s.expected > 0 and s.recall >= 0.6, (kind, s)


@pytest.mark.slow
def test_the_score_counts_are_consistent(scored):
    sc, report, scores = scored
    for kind, s in scores.items():
        assert s.true_positives + s.false_negatives == s.expected == len(sc.expected(kind))
        assert s.true_positives + s.false_positives == s.flagged


def test_same_seed_same_scenario_other_seed_other(real_world):
    a = simulate(seed=5, terminals=40, days=1)
    b = simulate(seed=5, terminals=40, days=1)
    c = simulate(seed=6, terminals=40, days=1)
    np.testing.assert_array_equal(a.telemetry.latitude_deg, b.telemetry.latitude_deg)
    assert a.labels.tolist() == b.labels.tolist() and a.classes == b.classes
    assert len(a.telemetry) != len(c.telemetry) or not np.array_equal(
        a.telemetry.latitude_deg, c.telemetry.latitude_deg
    )


def test_realistic_reports(real_world):
    sc = simulate(seed=3, terminals=120, days=2)
    tel = sc.telemetry
    assert set(sc.classes.values()) == set(CLASSES)
    assert classes_from_labels(tel.ids(), sc.labels) == sc.classes
    first = np.r_[True, tel.terminal[1:] != tel.terminal[:-1]]
    gap_s = np.diff(tel.time_ns) / 1e9
    same = ~first[1:]
    # reports every minute to every 15 minutes (outages aside)
    assert np.percentile(gap_s[same], 5) >= 45 and np.median(gap_s[same]) <= 15 * 60 * 1.2
    # fixed homes: GPS noise of tens of metres around one place
    home = np.flatnonzero(sc.labels == "home-ua")
    codes = np.unique(tel.terminal[home])
    for code in codes[:10]:
        rows = np.flatnonzero(tel.terminal == code)
        d = great_circle_km(
            tel.latitude_deg[rows],
            tel.longitude_deg[rows],
            np.median(tel.latitude_deg[rows]),
            np.median(tel.longitude_deg[rows]),
        )
        assert np.median(d) < 0.08
    # drones fly at 100-250 km/h
    drone = np.flatnonzero(sc.labels == "drone")
    v = sc.telemetry.speed_kmh[drone]
    v = v[np.isfinite(v) & (v > 20)]
    assert v.size and 95 <= np.percentile(v, 5) and np.percentile(v, 95) <= 255


def test_places_are_on_the_real_map(real_world):
    sc = simulate(seed=4, terminals=80, days=1)
    tel = sc.telemetry
    idx = real_world.index()
    crimea = real_world.region("crimea")

    def where(cls):
        rows = np.flatnonzero(sc.labels == cls)
        c = idx.lookup(tel.latitude_deg[rows], tel.longitude_deg[rows])
        ids = np.array([idx.regions[i].id if i >= 0 else "sea" for i in c])
        return ids, crimea.contains(tel.latitude_deg[rows], tel.longitude_deg[rows])

    ids, in_crimea = where("home-ua")
    assert np.mean((ids == "UA") & ~in_crimea) > 0.99  # a GPS jump may land elsewhere
    ids, _ = where("ship")
    assert np.mean(ids == "sea") > 0.9
    ids, _ = where("overstayer")
    assert np.mean(ids == "PL") > 0.99
    ids, in_crimea = where("front-shuttle")
    assert in_crimea.any() and not in_crimea.all() and np.mean(ids == "UA") > 0.99


def test_bad_arguments():
    with pytest.raises(InputError, match="scenario 'mars'"):
        simulate("mars")
    with pytest.raises(InputError, match=r"at least 17 \(one per class\)"):
        simulate(terminals=3)


def test_permuting_the_labels_does_not_change_the_findings(tmp_path, real_world):
    sc = simulate(seed=7, terminals=60, days=2)
    a = write_scenario(sc, tmp_path / "a" / "t.parquet")
    sc.labels = np.random.default_rng(0).permutation(sc.labels)
    b = write_scenario(sc, tmp_path / "b" / "t.parquet")
    ra = detect(read_telemetry(a["telemetry"]), sc.policy, sc.registry)
    rb = detect(read_telemetry(b["telemetry"]), sc.policy, sc.registry)
    assert ra.findings and [f.to_dict() for f in ra.findings] == [f.to_dict() for f in rb.findings]
