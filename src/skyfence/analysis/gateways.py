"""The network's ground segment when the user gives no gateway list: one planning rule for all.

``skyfence links terminal``, ``coverage``, ``whatif`` and the demo all plan their gateways here,
so one place and time gives one answer whichever command asks:

* :func:`planned_gateways` — the **baseline plan**: a gateway at every PoP, then a greedy cover
  of land within :data:`PLAN_RADIUS_KM` (see :func:`skyfence.ground.plan_gateways`); gateways
  in countries that are not licensed (``without_countries``) are left out, and none stands in
  an area to avoid (a region switched off or excluded from an activation).
* :func:`in_country_gateways` and :func:`in_country_pops` — what a what-if adds so that a
  region's traffic can land in its own countries (radius :data:`IN_COUNTRY_RADIUS_KM`, and a
  PoP at the first built-in city of a country that has none).

This is a **planning model, not the operator's gateway list**.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from skyfence.ground import GroundSites, cities, plan_gateways, regions_country_of
from skyfence.ground.planner import Avoid
from skyfence.regions import Region

__all__ = [
    "IN_COUNTRY_RADIUS_KM",
    "PLAN_RADIUS_KM",
    "PLAN_SAMPLE_KM",
    "avoid_regions",
    "in_country_gateways",
    "in_country_pops",
    "planned_gateways",
    "with_iso2_countries",
]

#: Every sampled land point of the baseline plan has a gateway within this distance.
PLAN_RADIUS_KM = 500.0
#: Spacing of the land sample lattice of the plans.
PLAN_SAMPLE_KM = 100.0
#: Radius of the in-country plan of a what-if (a denser plan inside the region's countries).
IN_COUNTRY_RADIUS_KM = 150.0


def avoid_regions(regions: Sequence[Region]) -> Avoid | None:
    """``(lat, lon) -> bool``: inside any of ``regions`` (``None`` when there are none)."""
    parts = [r for r in regions if not r.geometry.is_empty]
    if not parts:
        return None

    def inside(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(lat), dtype=bool)
        for region in parts:
            out |= region.contains(lat, lon).reshape(out.shape)
        return out

    return inside


def with_iso2_countries(sites: GroundSites) -> GroundSites:
    """``sites`` with every country that is not an ISO alpha-2 code filled from the worldview."""
    codes = [str(c) for c in sites.country]
    if all(len(c) == 2 and c.isupper() for c in codes):
        return sites
    country_of = regions_country_of()
    return sites if country_of is None else sites.fill_countries(country_of)


def _upper(values: Iterable[object]) -> np.ndarray:
    return np.char.upper(np.asarray([str(v) for v in values], dtype=str))


def planned_gateways(
    pops: GroundSites,
    *,
    without_countries: Iterable[str] = (),
    avoid: Avoid | None = None,
    radius_km: float = PLAN_RADIUS_KM,
) -> GroundSites:
    """The baseline gateway plan (see the module docstring).

    Parameters
    ----------
    pops : GroundSites
        The PoPs; a gateway is planned at each (unless it stands in ``avoid``).
    without_countries : iterable of str
        ISO alpha-2 codes whose planned gateways are left out (a country where the network is
        not licensed has no gateway of the operator).
    avoid : callable, optional
        ``(lat, lon) -> bool``: where no gateway may stand (see :func:`avoid_regions`).
    radius_km : float
        Coverage radius of the land cover.
    """
    plan = plan_gateways(
        pops, country_of=regions_country_of(), coverage_radius_km=radius_km,
        sample_km=PLAN_SAMPLE_KM, avoid=avoid,
    )  # fmt: skip
    drop = {c.upper() for c in without_countries}
    if drop and len(plan):
        keep = ~np.isin(_upper(plan.country), sorted(drop))
        plan = plan.subset(np.flatnonzero(keep))
    return plan


def in_country_gateways(
    pops: GroundSites,
    countries: Sequence[str],
    *,
    avoid: Avoid | None = None,
    radius_km: float = IN_COUNTRY_RADIUS_KM,
) -> GroundSites:
    """Gateways inside ``countries`` (ids ``in-country-...``): at their PoPs, then a land cover."""
    wanted = sorted({c.upper() for c in countries})
    own = pops.subset(np.flatnonzero(np.isin(_upper(pops.country), wanted)))
    add = plan_gateways(
        own, country_of=regions_country_of(), countries=wanted, coverage_radius_km=radius_km,
        sample_km=PLAN_SAMPLE_KM, avoid=avoid,
    )  # fmt: skip
    if len(add) == 0:
        return add
    ids = np.asarray([f"in-country-{i}" for i in add.id], dtype=object)
    return dataclasses.replace(add, id=ids, name=ids.copy())


def in_country_pops(
    pops: GroundSites, countries: Sequence[str], *, avoid: Avoid | None = None
) -> GroundSites:
    """``pops`` plus a PoP in each country of ``countries`` that has none.

    The PoP stands at the country's first city in the built-in table (its capital or largest
    city); a city inside an area to avoid is passed over for the next one.
    """
    have = set(_upper(pops.country).tolist())
    missing = [c.upper() for c in countries if c.upper() not in have]
    if not missing:
        return pops
    table = cities()
    table_country = _upper(table.country)
    allowed = np.ones(len(table), dtype=bool)
    if avoid is not None and len(table):
        allowed = ~np.asarray(avoid(table.latitude_deg, table.longitude_deg), dtype=bool)
    rows = []
    for code in missing:
        found = np.flatnonzero((table_country == code) & allowed)
        if len(found):
            rows.append((code, int(found[0])))
    if not rows:
        return pops
    extra = GroundSites.from_arrays(
        [table.latitude_deg[i] for _, i in rows],
        [table.longitude_deg[i] for _, i in rows],
        kind="pop",
        id=[f"plan-pop-{c.lower()}" for c, _ in rows],
        name=[f"planned PoP {c}" for c, _ in rows],
        country=[c for c, _ in rows],
    )
    return pops.concat(extra)
