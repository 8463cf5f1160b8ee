"""Fixtures for the network tests: the Gen1 preset and small Walker shells, propagated."""

from __future__ import annotations

import numpy as np
import pytest

from skyfence.orbits import Constellation, ShellInfo

T0 = np.datetime64("2026-02-22T12:00:00", "ns")


@pytest.fixture(scope="session")
def gen1():
    c = Constellation.from_preset("starlink-gen1")
    eph = c.propagate(np.array([T0, T0 + np.timedelta64(600, "s")]))
    return c, eph


@pytest.fixture(scope="session")
def small_walker():
    """A 12x10 Walker delta at 550 km, 53°, and 10 minutes at 15 s."""
    c = Constellation.from_shells([ShellInfo("small", 550.0, 53.0, 12, 10, 5)])
    times = T0 + np.arange(0, 601, 15).astype("timedelta64[s]").astype("timedelta64[ns]")
    return c, c.propagate(times)
