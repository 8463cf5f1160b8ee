"""Hand-made geography for the detector tests, and small generated scenarios.

Boxes (lon × lat, degrees): country AA = 0..10 × 0..10, country BB = 10..20 × 0..10, the
rest is sea; ``front`` = 2..4 × 2..4 inside AA is a sensitive region switched off.
"""

from __future__ import annotations

import pytest

from skyfence.detect import PolicyHistory
from skyfence.policy import Terminal, TerminalRegistry, parse_policy
from skyfence.policy.testing import SimpleIndex, box_region

POLICY = """
name: boxes
sensitive_regions: [front]
rules:
  - {id: aa, region: AA, state: active}
  - {id: bb, region: BB, state: active}
  - {id: front-off, region: front, state: suspended}
terminal_rules:
  - {id: sp75, kind: speed_limit, region: AA, max_speed_kmh: 75, exempt_plans: [government]}
  - {id: wl, kind: whitelist_only, region: AA}
  - {id: alt, kind: altitude, max_altitude_m: 3000, exempt_plans: [aviation]}
  - {id: trip, kind: roaming, plans: [fixed, roam], max_trip_days: 60}
  - {id: sea, kind: maritime, offshore_km: 22.2, open_sea_state: active, offshore_plans: [maritime, aviation]}
"""


class Boxes:
    def __init__(self) -> None:
        self.AA = box_region("AA", 0, 0, 10, 10, kind="country")
        self.BB = box_region("BB", 10, 0, 20, 10, kind="country")
        self.front = box_region("front", 2, 2, 4, 4)
        self.by_name = {"AA": self.AA, "BB": self.BB, "front": self.front}
        self.countries = SimpleIndex([self.AA, self.BB])

    def resolve(self, expr: str):
        return self.by_name[expr.strip()]

    def kwargs(self) -> dict:
        return {"resolve": self.resolve, "countries": self.countries, "index_factory": SimpleIndex}

    registry = None  # set below

    def history(self, policy=None, versions=None) -> PolicyHistory:
        if versions is not None:
            return PolicyHistory(versions, compile_kwargs=self.kwargs())
        return PolicyHistory(policy or parse_policy(POLICY), compile_kwargs=self.kwargs())


REGISTRY = TerminalRegistry(
    [
        Terminal("home", "AA", "fixed", whitelists=("AA",)),
        Terminal("van", "AA", "roam", whitelists=("AA",)),
        Terminal("drone", "AA", "roam", whitelists=("AA",)),
        Terminal("ferry", "AA", "maritime", whitelists=("AA",)),
        Terminal("plane", "BB", "aviation", whitelists=("AA",)),
        Terminal("gov", "AA", "government", whitelists=("AA",)),
        Terminal("away", "AA", "fixed", whitelists=("AA",), trip_started="2025-12-01T00:00:00Z"),
        Terminal("trip", "AA", "fixed", whitelists=("AA",), trip_started="2026-02-25T00:00:00Z"),
    ]
    + [Terminal(f"ok{i}", "AA", "fixed", whitelists=("AA",)) for i in range(8)]
)


@pytest.fixture(scope="session")
def boxes() -> Boxes:
    b = Boxes()
    b.registry = REGISTRY
    return b
