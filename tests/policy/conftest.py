"""Hand-made regions for the policy engine tests, and the real world (loaded once)."""

from __future__ import annotations

import pytest

from skyfence.policy.testing import SimpleIndex, box_region


class Boxes:
    """Two 'countries' side by side and a few custom boxes inside them.

    AA: lon 0..10, lat 0..10          BB: lon 10..20, lat 0..10
    small: 2..4 × 2..4 (inside AA)    mid: 1..6 × 1..6 (inside AA, contains small)
    twin1 / twin2: the same box 6..8 × 6..8 (equal areas)
    strip: 9..11 × 0..10 (straddles the AA/BB border)
    """

    def __init__(self) -> None:
        self.AA = box_region("AA", 0, 0, 10, 10, kind="country")
        self.BB = box_region("BB", 10, 0, 20, 10, kind="country")
        self.countries = SimpleIndex([self.AA, self.BB])
        self.custom = {
            "small": box_region("small", 2, 2, 4, 4),
            "mid": box_region("mid", 1, 1, 6, 6),
            "twin1": box_region("twin1", 6, 6, 8, 8),
            "twin2": box_region("twin2", 6, 6, 8, 8),
            "strip": box_region("strip", 9, 0, 11, 10),
        }
        self.by_name = {"AA": self.AA, "BB": self.BB, **self.custom}

    def resolve(self, expr: str):
        return self.by_name[expr.strip()]

    def kwargs(self) -> dict:
        return {
            "resolve": self.resolve,
            "countries": self.countries,
            "index_factory": SimpleIndex,
        }

    def compile(self, policy):
        return policy.compile(**self.kwargs())


@pytest.fixture(scope="session")
def boxes() -> Boxes:
    return Boxes()


@pytest.fixture(scope="session")
def real_world():
    """The built-in worldview and its country index (slow to build: once per session)."""
    from skyfence.regions import world

    w = world()
    w.index()
    return w
