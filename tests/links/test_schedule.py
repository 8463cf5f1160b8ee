"""The 15-second schedule: the selection rules, handovers, validation."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.errors import InputError
from skyfence.ground import GroundSites
from skyfence.links import STATUS_OK, NetworkModel, Schedule, run_schedule
from skyfence.orbits import Ephemeris


@pytest.fixture(scope="module")
def setup(small_walker):
    c, eph = small_walker
    gw = GroundSites.from_arrays([45.0, 30.0, 10.0, 40.0], [0.0, 20.0, 10.0, 40.0], kind="gateway")
    pops = GroundSites.from_arrays([48.0, 25.0], [5.0, 30.0], kind="pop")
    term = GroundSites.from_arrays([44.0, 35.0, 20.0, 30.0], [5.0, 25.0, 15.0, 30.0])
    return (
        c,
        eph,
        NetworkModel(c, gw, pops, terminal_min_elevation_deg=10.0, gateway_min_elevation_deg=10.0),
        term,
    )


def test_max_elevation_rule(setup):
    c, eph, model, term = setup
    s = run_schedule(model, eph, term, rule="max-elevation")
    assert s.serving_sat.shape == (len(term), len(eph.times))
    assert s.slot_s == 15.0
    # at every slot the serving satellite is the highest among the visible ones with a route
    for i in range(0, len(eph.times), 5):
        res = model.step(eph, i, term)  # min-rtt step gives the visible pairs and routes
        for t in range(len(term)):
            v = res.visible.for_site(t)
            if s.serving_sat[t, i] < 0:
                continue
            routed = [
                sat
                for sat in v.sat
                if model.step(eph, i, term.subset([t]), force_sat=np.array([sat])).status[0]
                == STATUS_OK
            ]
            best = v.sat[np.isin(v.sat, routed)][np.argmax(v.elevation_deg[np.isin(v.sat, routed)])]
            assert s.serving_sat[t, i] == best


def test_longest_visible_hands_over_less(setup):
    c, eph, model, term = setup
    hi = run_schedule(model, eph, term, rule="max-elevation")
    lv = run_schedule(model, eph, term, rule="longest-visible", block_slots=7, lookahead_slots=60)
    assert np.all(lv.handovers <= hi.handovers)
    assert lv.handovers.sum() < hi.handovers.sum()
    # longest-visible keeps a satellite until it sets (or loses its route): a change happens only
    # when the previous one is no longer served with a route
    served = lv.serving_sat >= 0
    assert served.mean() > 0.5
    mr = run_schedule(model, eph, term, rule="min-rtt")
    assert np.all(np.nan_to_num(mr.rtt_ms, nan=0) <= np.nan_to_num(hi.rtt_ms, nan=0) + 1e-9)


def test_blocks_do_not_change_the_result(setup):
    c, eph, model, term = setup
    a = run_schedule(model, eph, term, rule="longest-visible", block_slots=5, lookahead_slots=60)
    b = run_schedule(model, eph, term, rule="longest-visible", block_slots=1000, lookahead_slots=60)
    assert np.array_equal(a.serving_sat, b.serving_sat)


def test_handover_counting_by_hand():
    sat = np.array([[1, 1, 2, 2, 3], [5, -1, 6, 6, 6], [-1, -1, -1, -1, -1]])
    s = Schedule(
        times=np.arange(5).astype("datetime64[s]").astype("datetime64[ns]"), serving_sat=sat,
        gateway=sat * 0, pop=sat * 0, isl_hops=sat * 0,
        rtt_ms=np.where(sat >= 0, 20.0 + sat, np.nan), elevation_deg=np.zeros(sat.shape), slot_s=15.0, rule="x",
    )  # fmt: skip
    assert s.handovers.tolist() == [2, 0, 0]
    assert s.handovers_per_hour.tolist() == [2 / (4 * 15 / 3600), 0.0, 0.0]
    med = s.median_rtt_ms
    assert med[0] == 22.0 and med[1] == 26.0 and np.isnan(med[2])


def test_validation(setup, small_walker):
    c, eph, model, term = setup
    with pytest.raises(InputError, match="max-elevation, longest-visible, min-rtt"):
        run_schedule(model, eph, term, rule="random")
    with pytest.raises(InputError, match="slot is 30 s"):
        run_schedule(model, eph, term, slot_s=30.0)
    uneven = Ephemeris(
        times=eph.times[[0, 1, 3]], positions_ecef_km=eph.positions_ecef_km[:, [0, 1, 3]]
    )
    with pytest.raises(InputError, match="evenly spaced"):
        run_schedule(model, uneven, term)


@pytest.mark.parametrize("rule", ["max-elevation", "longest-visible", "min-rtt"])
def test_two_workers_give_the_same_schedule(setup, rule):
    c, eph, model, term = setup
    one = run_schedule(model, eph, term, rule=rule, block_slots=7, lookahead_slots=30)
    seen: list[tuple[int, int]] = []
    two = run_schedule(
        model, eph, term, rule=rule, block_slots=7, lookahead_slots=30, workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    for name in ("serving_sat", "gateway", "pop", "isl_hops"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
    for name in ("rtt_ms", "elevation_deg"):
        assert np.array_equal(getattr(one, name), getattr(two, name), equal_nan=True), name
    T = len(eph.times)
    assert seen[0] == (0, T) and seen[-1] == (T, T)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_failing_worker_fails_the_run(setup, monkeypatch):
    c, eph, model, term = setup
    real_step = NetworkModel.step

    def step(self, eph_, i, *args, **kwargs):
        if i == len(eph_.times) - 2:
            raise InputError("slot went wrong")
        return real_step(self, eph_, i, *args, **kwargs)

    monkeypatch.setattr(NetworkModel, "step", step)
    with pytest.raises(InputError, match="slot went wrong"):
        run_schedule(model, eph, term, workers=2)


def test_workers_must_be_a_positive_whole_number(setup):
    c, eph, model, term = setup
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError, match="workers must be a positive whole number"):
            run_schedule(model, eph, term, workers=bad)
