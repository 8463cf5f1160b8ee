"""What-if activation: switch a region on or off and see what follows, cell by cell.

``activate`` answers: if the network were switched on over region X (a country, a disputed
area, a custom polygon or any region expression), what service would X get — coverage,
round-trip times — through which gateways and PoPs, **in which countries** they stand (is
traffic landing abroad?), which gateways a planner would add so that traffic lands in X, and
how much service **spills over** X's border from the beams that serve X's border cells.

``deactivate`` answers the reverse: what service X loses, and how much of X stays lit by the
beams serving the cells just outside it.

Modelling choices (each a parameter):

* Before an activation the region is not served (the policy is off there); after it, every
  cell touching the region is served wherever the network can serve it (see
  :mod:`skyfence.analysis.coverage`).
* The **baseline gateways** for an activation stand outside the region: a region that is not
  licensed has no gateway of the operator. With ``gateways="plan"`` the planner's gateways in
  the region's countries are left out of the baseline; a user-given gateway file is used as is.
* **Landing in-country**: the planner adds gateways in the region's countries (plus a PoP at
  the region's largest built-in city when it has none) and terminals in the region must land
  there (:class:`skyfence.links.LandingConstraint`).
* **Spillover**: a served cell lights a disc of ``footprint_km`` around its centre (the beam
  footprint; default 12 km ≈ the circumradius of an H3 resolution-5 cell plus 2 km). The part of
  the lit area outside the region is spillover, split by the regions (countries) it falls in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely

from skyfence.analysis.coverage import Coverage, cell_centres, compute_coverage
from skyfence.analysis.sharding import Executor
from skyfence.errors import InputError
from skyfence.ground import GroundSites, cities, default_pops, plan_gateways, regions_country_of
from skyfence.links import NetworkModel
from skyfence.regions import (
    Region,
    buffer_km,
    center_cells,
    geodesic_area_km2,
    parse_region,
    world,
)
from skyfence.timeutil import datetime64_to_iso, parse_time, time_grid

__all__ = ["WhatIfReport", "Spillover", "run_whatif", "spillover", "DEFAULT_FOOTPRINT_KM"]

DEFAULT_FOOTPRINT_KM = 12.0
ACTIONS = ("activate", "deactivate")
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Spillover:
    """Service lit outside a region (activate) or left lit inside it (deactivate)."""

    direction: str  # "outside" (activation lights neighbours) or "inside" (region stays lit)
    footprint_km: float
    area_km2: float
    cells: np.ndarray  # H3 cells whose centre is in the spill area, at the report resolution
    by_region: list[dict[str, Any]]  # {region, name, area_km2}, largest first; region "" = sea
    geometry: Any = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "footprint_km": self.footprint_km,
            "area_km2": self.area_km2,
            "cells": len(self.cells),
            "by_region": self.by_region,
        }


def _lit_area(centres_lat: np.ndarray, centres_lon: np.ndarray, footprint_km: float) -> Any:
    if len(centres_lat) == 0:
        return shapely.Polygon()
    points = shapely.MultiPoint(np.column_stack([centres_lon, centres_lat]))
    return buffer_km(points, footprint_km)


def spillover(
    region: Region,
    served_lat: np.ndarray,
    served_lon: np.ndarray,
    *,
    direction: Literal["outside", "inside"] = "outside",
    footprint_km: float = DEFAULT_FOOTPRINT_KM,
    resolution: int = 5,
    countries: list[Region] | None = None,
) -> Spillover:
    """Spillover of beams centred on ``served_lat/lon`` with radius ``footprint_km``.

    ``direction="outside"``: the lit area outside ``region`` (an activation lights its
    neighbours). ``direction="inside"``: the lit area inside ``region`` (a deactivated region
    still lit by the beams serving the cells around it).
    """
    if not np.isfinite(footprint_km) or footprint_km <= 0:
        raise InputError(f"footprint_km must be > 0, got {footprint_km}")
    lit = _lit_area(np.asarray(served_lat), np.asarray(served_lon), footprint_km)
    if direction == "outside":
        spill = shapely.difference(lit, region.geometry)
    elif direction == "inside":
        spill = shapely.intersection(lit, region.geometry)
    else:
        raise InputError(f"direction must be 'outside' or 'inside', got {direction!r}")
    spill = shapely.make_valid(spill)
    area = geodesic_area_km2(spill)
    by_region: list[dict[str, Any]] = []
    if not spill.is_empty and area > 0:
        pool = countries if countries is not None else world().countries
        geoms = np.asarray([r.geometry for r in pool], dtype=object)
        tree = shapely.STRtree(geoms)
        land_area = 0.0
        for i in tree.query(spill, predicate="intersects"):
            part = shapely.intersection(spill, pool[int(i)].geometry)
            a = geodesic_area_km2(part)
            if a > 0.01:
                by_region.append(
                    {"region": pool[int(i)].id, "name": pool[int(i)].name, "area_km2": a}
                )
                land_area += a
        if area - land_area > 0.01:
            by_region.append({"region": "", "name": "sea", "area_km2": area - land_area})
        by_region.sort(key=lambda r: -r["area_km2"])
    cells = center_cells(spill, resolution) if not spill.is_empty else np.zeros(0, dtype=np.uint64)
    return Spillover(direction, float(footprint_km), float(area), cells, by_region, spill)


@dataclass
class WhatIfReport:
    """Everything a what-if run found; ``to_dict()`` is the JSON form."""

    action: str
    expression: str
    region: Region
    worldview: str
    region_countries: list[str]
    window: dict[str, Any]
    setup: dict[str, Any]
    before: dict[str, Any]
    after: dict[str, Any]
    coverage: Coverage
    gateways_used: list[dict[str, Any]]
    pops_used: list[dict[str, Any]]
    lands_abroad_share: float
    in_country: dict[str, Any] | None
    coverage_in_country: Coverage | None
    planned_gateways: list[dict[str, Any]]
    spill: Spillover
    notes: list[str] = field(default_factory=list)

    @property
    def lands_abroad(self) -> bool:
        return self.lands_abroad_share > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "expression": self.expression,
            "region": {
                "id": self.region.id,
                "name": self.region.name,
                "area_km2": self.region.area_km2,
                "bounds": list(self.region.bounds),
                "countries": self.region_countries,
            },
            "worldview": self.worldview,
            "window": self.window,
            "setup": self.setup,
            "before": self.before,
            "after": self.after,
            "gateways_used": self.gateways_used,
            "pops_used": self.pops_used,
            "lands_abroad": self.lands_abroad,
            "lands_abroad_share": self.lands_abroad_share,
            "in_country": self.in_country,
            "planned_gateways": self.planned_gateways,
            "spillover": self.spill.to_dict(),
            "cells": self.coverage.table(),
            "notes": self.notes,
        }


def _region_countries(region: Region, lat: np.ndarray, lon: np.ndarray) -> list[str]:
    idx = world().index()
    found = idx.lookup(lat, lon)
    inside = region.contains(lat, lon)
    codes = [idx.regions[i].id for i in np.unique(found[(found >= 0) & inside])]
    if not codes:  # a region at sea or too small for any cell centre: take the nearest land
        codes = [idx.regions[i].id for i in np.unique(found[found >= 0])]
    return sorted(codes)


def _plan_pops_in(countries: list[str], pops: GroundSites) -> GroundSites:
    """PoPs for in-country landing: the region's own, or one at its largest built-in city."""
    have = {str(c).upper() for c in pops.country}
    missing = [c for c in countries if c.upper() not in have]
    if not missing:
        return pops
    table = cities()
    lat, lon, ids, ctry = [], [], [], []
    for code in missing:
        rows = np.flatnonzero(np.char.upper(np.asarray(table.country, dtype=str)) == code.upper())
        if len(rows) == 0:
            continue
        i = int(rows[0])
        lat.append(table.latitude_deg[i])
        lon.append(table.longitude_deg[i])
        ids.append(f"plan-pop-{code.lower()}")
        ctry.append(code.upper())
    if not ids:
        return pops
    extra = GroundSites.from_arrays(
        lat, lon, kind="pop", id=ids, name=[f"planned PoP {c}" for c in ctry], country=ctry
    )
    return pops.concat(extra)


def run_whatif(
    expression: str,
    action: Literal["activate", "deactivate"] = "activate",
    *,
    constellation: Any = None,
    gateways: GroundSites | Literal["plan"] = "plan",
    pops: GroundSites | None = None,
    start: str | np.datetime64 | None = "2026-02-22T12:00:00Z",
    duration_s: float = 3600.0,
    step_s: float = 15.0,
    resolution: int = 5,
    footprint_km: float = DEFAULT_FOOTPRINT_KM,
    in_country: bool = True,
    gateway_radius_km: float = 500.0,
    pop_map: Any = None,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> WhatIfReport:
    """Run a what-if activation (or deactivation) of the region ``expression``.

    Parameters
    ----------
    expression : str
        A region expression (``TW``, ``UA - crimea``, ``buffer(crimea-coast, 100km)``...).
    action : {"activate", "deactivate"}
    constellation : Constellation, optional
        Default: the Starlink Gen1 preset.
    gateways : GroundSites or "plan"
        Gateway sites, or ``"plan"`` for the built-in planner (see the module docstring).
    pops : GroundSites, optional
        Default: the built-in PoP metro areas.
    start, duration_s, step_s
        The time window; the default start is fixed so reports are reproducible.
    resolution : int
        H3 resolution of the cells (5 ≈ the operator's ~250–300 km² service cells).
    footprint_km : float
        Beam footprint radius for spillover.
    in_country : bool
        Also compute coverage when traffic must land in the region's countries.
    gateway_radius_km : float
        The planner's coverage radius for the baseline plan.
    pop_map : PopMap, optional
        Home PoP by place (default: the nearest PoP).
    executor, progress
        See :func:`skyfence.analysis.coverage.compute_coverage`; ``progress`` counts shards
        over every coverage run of the report.
    """
    if action not in ACTIONS:
        raise InputError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    from skyfence.orbits import Constellation

    w = world()
    region = parse_region(expression, w)
    if region.geometry.is_empty or region.area_km2 <= 0:
        raise InputError(f"region {expression!r} is empty; check the expression")
    constellation = constellation or Constellation.from_preset("starlink-gen1")
    pops = pops if pops is not None else default_pops()
    cells = region.cells(resolution)
    lat, lon = cell_centres(cells)
    countries = _region_countries(region, lat, lon)
    times = time_grid(parse_time(start), duration_s, step_s)
    country_of = regions_country_of()

    notes: list[str] = []
    if isinstance(gateways, str):
        if gateways != "plan":
            raise InputError(f"gateways must be a GroundSites table or 'plan', got {gateways!r}")
        planned = plan_gateways(pops, country_of=country_of, coverage_radius_km=gateway_radius_km)
        if action == "activate":
            keep = ~np.isin(np.char.upper(np.asarray(planned.country, dtype=str)), countries)
            baseline = planned.subset(np.flatnonzero(keep))
            notes.append(
                f"Baseline gateways: the planner's {len(baseline)} sites outside "
                f"{', '.join(countries) or 'the region'} (a planning model, not the operator's list)."
            )
        else:
            baseline = planned
            notes.append(
                f"Baseline gateways: the planner's {len(planned)} sites (a planning model)."
            )
        gateway_source = "plan"
    else:
        baseline = gateways
        gateway_source = gateways.source or "user file"
    if len(baseline) == 0:
        raise InputError("no gateways to serve from: give a gateway file or use the planner")

    runs = 2 if in_country else 1
    n_shards = -(-len(times) // 20)
    done_offset = [0]

    def sub_progress(done: int, total: int) -> None:
        if progress:
            progress(done_offset[0] + done, runs * n_shards)

    model = NetworkModel(constellation, baseline, pops, pop_map=pop_map)
    cov = compute_coverage(
        cells, times, constellation=constellation, model=model, progress=sub_progress,
        meta={"run": "baseline"},
    )  # fmt: skip
    done_offset[0] += n_shards

    inside = region.contains(lat, lon)
    served_summary = cov.summary()
    zero = _zero_summary(served_summary)
    if action == "activate":
        before, after = zero, served_summary
    else:
        before, after = served_summary, zero

    gw_used = cov.usage("gateway")
    for row in gw_used:
        row["abroad"] = row["country"].upper() not in countries
    pop_used = cov.usage("pop")
    for row in pop_used:
        row["abroad"] = row["country"].upper() not in countries
    abroad_share = float(sum(r["share"] for r in gw_used if r["abroad"]))

    in_country_summary = None
    cov_in = None
    planned_rows: list[dict[str, Any]] = []
    if in_country and countries:
        add = plan_gateways(
            pops.subset(np.flatnonzero(np.isin(np.char.upper(np.asarray(pops.country, dtype=str)), countries))),
            country_of=country_of, countries=countries, coverage_radius_km=min(gateway_radius_km, 150.0),
        )  # fmt: skip
        ids = np.asarray([f"in-country-{i}" for i in add.id], dtype=object)
        add = dataclasses.replace(add, id=ids, name=ids.copy())
        planned_rows = add.to_records()
        pops_in = _plan_pops_in(countries, pops)
        gws_in = baseline.concat(add) if len(add) else baseline
        model_in = NetworkModel(constellation, gws_in, pops_in, pop_map=pop_map)
        cov_in = compute_coverage(
            cells, times, constellation=constellation, model=model_in,
            constraint_countries=countries, terminal_country=countries[0],
            progress=sub_progress, meta={"run": "in-country"},
        )  # fmt: skip
        in_country_summary = cov_in.summary()
        in_country_summary["gateways_used"] = cov_in.usage("gateway")
        in_country_summary["pops_used"] = cov_in.usage("pop")
    elif in_country:
        notes.append("The region holds no country's land, so no in-country landing was computed.")
    done_offset[0] += n_shards

    served = cov.served_fraction > 0
    if action == "activate":
        spill = spillover(
            region, lat[served], lon[served], direction="outside", footprint_km=footprint_km,
            resolution=resolution,
        )  # fmt: skip
    else:
        ring = parse_region(f"buffer({_quote(expression)}, {footprint_km * 3:g}km)", w)
        outer_cells = np.setdiff1d(ring.cells(resolution), cells)
        olat, olon = cell_centres(outer_cells)
        keep = ~region.contains(olat, olon)
        spill = spillover(
            region, olat[keep], olon[keep], direction="inside", footprint_km=footprint_km,
            resolution=resolution,
        )  # fmt: skip
        notes.append(
            "Cells just outside the region were taken as served (they stay active); "
            "the spillover is the part of the region their beams still light."
        )
    if not inside.all():
        notes.append(
            f"{int((~inside).sum())} of {len(cells)} cells touch the region but have their centre "
            "outside it (border and coast cells); they are counted as the region's."
        )

    return WhatIfReport(
        action=action,
        expression=expression,
        region=region,
        worldview=w.worldview,
        region_countries=countries,
        window={
            "start": datetime64_to_iso(times[0]),
            "duration_s": float(duration_s),
            "step_s": float(step_s),
            "steps": len(times),
        },
        setup={
            "constellation": getattr(constellation, "name", None) or repr(constellation),
            "satellites": len(constellation),
            "gateways": gateway_source,
            "gateway_count": len(baseline),
            "pops": pops.source or "built-in",
            "pop_count": len(pops),
            "resolution": resolution,
            "footprint_km": footprint_km,
            "terminal_min_elevation_deg": model.terminal_min_elevation_deg,
        },
        before=before,
        after=after,
        coverage=cov,
        gateways_used=gw_used,
        pops_used=pop_used,
        lands_abroad_share=abroad_share,
        in_country=in_country_summary,
        coverage_in_country=cov_in,
        planned_gateways=planned_rows,
        spill=spill,
        notes=notes,
    )


def _quote(expression: str) -> str:
    return f"({expression})"


def _zero_summary(served: dict[str, Any]) -> dict[str, Any]:
    """The same cells with service switched off: nothing served, satellites still in view."""
    return served | {
        "served_fraction": 0.0,
        "always_served_area_km2": 0.0,
        "never_served_area_km2": served["area_km2"],
        "rtt_p50_ms": None,
        "rtt_p95_ms": None,
        "handovers_per_hour": 0.0,
    }
