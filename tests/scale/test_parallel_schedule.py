"""The 15-s schedule split into runs of slots on the one runner: the same on Dask, in local
processes and here."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.ground import GroundSites
from skyfence.links import NetworkModel, run_schedule
from skyfence.orbits import Constellation, ShellInfo
from skyfence.scale import Parallel, open_runner

T0 = np.datetime64("2026-02-22T12:00:00", "ns")


@pytest.fixture(scope="module")
def setup():
    c = Constellation.from_shells([ShellInfo("small", 550.0, 53.0, 12, 10, 5)])
    times = T0 + np.arange(0, 301, 15).astype("timedelta64[s]").astype("timedelta64[ns]")
    gw = GroundSites.from_arrays([45.0, 30.0, 10.0, 40.0], [0.0, 20.0, 10.0, 40.0], kind="gateway")
    pops = GroundSites.from_arrays([48.0, 25.0], [5.0, 30.0], kind="pop")
    term = GroundSites.from_arrays([44.0, 35.0, 20.0], [5.0, 25.0, 15.0])
    model = NetworkModel(c, gw, pops, terminal_min_elevation_deg=10.0)
    return model, c.propagate(times), term


@pytest.mark.parametrize(
    "parallel",
    [Parallel(workers=2), Parallel(dask_workers=2, dask_processes=False)],
    ids=["processes", "dask"],
)
def test_a_schedule_on_the_runner_is_the_single_process_schedule(setup, parallel):
    model, eph, term = setup
    one = run_schedule(model, eph, term, rule="longest-visible", block_slots=4)
    seen: list[tuple[int, int]] = []
    with open_runner(parallel) as runner:
        two = run_schedule(
            model, eph, term, rule="longest-visible", block_slots=4, executor=runner,
            workers=3, progress=lambda d, t: seen.append((d, t)),
        )  # fmt: skip
    for name in ("serving_sat", "gateway", "pop", "isl_hops", "rtt_ms", "elevation_deg"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name), err_msg=name)
    assert seen[0] == (0, 21) and seen[-1] == (21, 21) and len(seen) == 4
