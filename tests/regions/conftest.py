"""Fixtures of the regions tests: the built-in worldview and its country index, built once."""

from __future__ import annotations

import pytest

from skyfence.regions import RegionIndex, Worldview, world


@pytest.fixture(scope="session")
def w() -> Worldview:
    return world()


@pytest.fixture(scope="session")
def idx(w: Worldview) -> RegionIndex:
    return w.index()
