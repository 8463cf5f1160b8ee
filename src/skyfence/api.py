"""The names a user starts from, in one place — ``from skyfence.api import ...``.

As ``skyfield.api`` does for skyfield: the types and functions of a first session, whichever
package they live in. Each name is imported from its package on first use, so
``from skyfence.api import Constellation`` loads the orbits package only.

Examples
--------
A constellation as filed, a minute of positions (every 15 s, both ends included), and what a place sees:

>>> from skyfence.api import Constellation, time_grid
>>> gen1 = Constellation.from_preset("starlink-gen1", epoch="2026-02-22T00:00:00Z")
>>> len(gen1)
4408
>>> eph = gen1.propagate(time_grid("2026-02-22T00:00:00Z", 60.0, 15.0))
>>> eph.positions_ecef_km.shape
(4408, 5, 3)

Where is a place, and may a terminal there be served under a policy:

>>> from skyfence.api import parse_policy, world
>>> world().region("TW").name
'Taiwan'
>>> policy = parse_policy("rules: [{id: tw, region: TW, state: coming_soon}]")
>>> d = policy.decide("UT-1", 25.03, 121.56, "2026-03-01T00:00:00Z")
>>> d.allowed, d.state, d.rule_id
(False, 'coming_soon', 'tw')
"""

from __future__ import annotations

import importlib
from typing import Any

#: Where each name lives (module, attribute).
_WHERE: dict[str, str] = {
    # time
    "time_grid": "skyfence.timeutil",
    "parse_time": "skyfence.timeutil",
    "parse_duration": "skyfence.timeutil",
    # constellations
    "ElementSet": "skyfence.orbits",
    "Constellation": "skyfence.orbits",
    "Ephemeris": "skyfence.orbits",
    "walker_shell": "skyfence.orbits",
    # ground and network
    "GroundSites": "skyfence.ground",
    "load_sites": "skyfence.ground",
    "cities": "skyfence.ground",
    "default_pops": "skyfence.ground",
    "NetworkModel": "skyfence.links",
    "LatencyModel": "skyfence.links",
    "run_schedule": "skyfence.links",
    "DEFAULT_RULE": "skyfence.links",
    # regions
    "world": "skyfence.regions",
    "parse_region": "skyfence.regions",
    "Region": "skyfence.regions",
    "RegionIndex": "skyfence.regions",
    # policy
    "Policy": "skyfence.policy",
    "Decision": "skyfence.policy",
    "parse_policy": "skyfence.policy",
    "load_policy": "skyfence.policy",
    "diff_policies": "skyfence.policy",
    # analysis
    "compute_coverage": "skyfence.analysis.coverage",
    "Coverage": "skyfence.analysis.coverage",
    "run_whatif": "skyfence.analysis.whatif",
    "WhatIfReport": "skyfence.analysis.whatif",
    "read_telemetry": "skyfence.detect",
    "detect": "skyfence.detect",
    # store, settings and the application layer
    "Store": "skyfence.store",
    "App": "skyfence.app.context",
    "Settings": "skyfence.settings",
    "load_settings": "skyfence.settings",
    "SkyfenceError": "skyfence.errors",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(
            f"skyfence.api has no {name!r}; the names it offers are: {', '.join(__all__)}"
        )
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
