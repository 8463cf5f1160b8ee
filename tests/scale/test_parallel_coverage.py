"""``coverage`` and ``whatif`` run their time shards through the one runner: the same result
here, in local processes and on Dask."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.app.context import App
from skyfence.app.whatif import coverage
from skyfence.scale import Parallel

REGION = "h3:4:841fa3dffffffff"
SHORT = dict(start="2026-02-22T12:00:00Z", duration_s=600.0, step_s=15.0, resolution=5)


@pytest.fixture(scope="module")
def app():
    return App()


@pytest.fixture(scope="module")
def serial(app):
    return coverage(app, REGION, **SHORT).coverage


@pytest.mark.parametrize(
    "parallel",
    [Parallel(workers=2), Parallel(dask_workers=2, dask_processes=False)],
    ids=["processes", "dask"],
)
def test_coverage_is_the_same_wherever_its_shards_run(app, serial, parallel):
    cov = coverage(app, REGION, parallel=parallel, **SHORT).coverage
    assert len(serial.times) == 41  # 3 shards of 20 steps: the merge joins them in order
    for name in ("served", "n_visible", "rtt_ms", "serving_sat", "gateway", "pop", "times"):
        np.testing.assert_array_equal(getattr(cov, name), getattr(serial, name), err_msg=name)
    assert cov.summary() == serial.summary()
