"""What-if activation: switch a region on or off and see what follows, cell by cell.

``activate`` answers: if the network were switched on over region X (a country, a disputed
area, a custom polygon or any region expression), what service would X get — coverage,
round-trip times — through which gateways and PoPs, **in which countries** they stand (is
traffic landing abroad?), which gateways a planner would add so that traffic lands in X, and
how much service **spills over** X's border from the beams that serve X's border cells.

``deactivate`` answers the reverse: what service X loses — after the switch-off X is dark —
and how much of X stays lit by the beams serving the cells just outside it.

Modelling choices (each a parameter):

* Before an activation the region is not served (the policy is off there); after it, every
  cell touching the region is served wherever the network can serve it (see
  :mod:`skyfence.analysis.coverage`). A deactivation is the reverse: served before, dark after.
* **Switched-off areas**: the region of a deactivation, and the parts an activation excludes
  (``UA - crimea`` excludes ``crimea``). No planned gateway stands in them, the landing plan
  serves none of their land, and the light spilling into them is reported on its own line.
* The **baseline gateways** of an activation stand outside the region's countries: a country
  that is not licensed has no gateway of the operator. With ``gateways="plan"`` the planner's
  gateways there are left out (:mod:`skyfence.analysis.gateways`); a user-given gateway file is
  used as is.
* **Landing in-country** (activation only): the planner adds gateways in the region's
  countries (plus a PoP where a country has none) and terminals in the region must land there
  (:class:`skyfence.links.LandingConstraint`). A switched-off region gets no landing plan.
* **Spillover**: a served cell lights a disc of ``footprint_km`` around its centre (the beam
  footprint; default 12 km ≈ the circumradius of an H3 resolution-5 cell plus 2 km). For an
  activation, the lit area outside the region is spillover, split into the switched-off areas
  it reaches and then the countries (and sea) of the rest; for a deactivation it is the part
  of the region lit by the served cells around it (computed, not assumed: those cells are part
  of the coverage run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import shapely

from skyfence.analysis.coverage import (
    COVERAGE_RULES,
    Coverage,
    cell_centres,
    check_cell_steps,
    compute_coverage,
)
from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
from skyfence.analysis.gateways import (
    IN_COUNTRY_RADIUS_KM,
    PLAN_RADIUS_KM,
    avoid_regions,
    in_country_gateways,
    in_country_pops,
    planned_gateways,
    with_iso2_countries,
)
from skyfence.analysis.sharding import Executor
from skyfence.errors import InputError, SkyfenceError
from skyfence.ground import GroundSites, default_pops
from skyfence.links import DEFAULT_RULE, LatencyModel, NetworkModel
from skyfence.regions import (
    H3_RESOLUTIONS,
    Region,
    Worldview,
    buffer_km,
    geodesic_area_km2,
    parse_region,
    world,
)
from skyfence.timeutil import datetime64_to_iso, parse_time, time_grid

__all__ = [
    "ACTIONS",
    "DEFAULT_FOOTPRINT_KM",
    "DEFAULT_START",
    "Spillover",
    "WhatIfReport",
    "excluded_regions",
    "run_whatif",
    "spillover",
]

ACTIONS = ("activate", "deactivate")
#: Most time steps in one window (a year at 30 s; a longer window needs a longer step).
MAX_STEPS = 1_000_000
STEPS_PER_SHARD = 20
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class Spillover:
    """Service lit outside a region (activate) or left lit inside it (deactivate).

    ``area_km2`` is the whole lit area; it is the sum of the ``switched_off`` rows (the parts
    inside switched-off areas) and the ``by_region`` rows (countries and sea, for the rest).
    ``cells`` are the H3 cells at the report resolution that the lit area reaches, wholly or
    partly.
    """

    direction: str  # "outside" (activation lights neighbours) or "inside" (region stays lit)
    footprint_km: float
    area_km2: float
    cells: np.ndarray
    by_region: list[dict[str, Any]]  # {region, name, area_km2}, largest first; region "" = sea
    geometry: Any = field(repr=False)
    switched_off: list[dict[str, Any]] = field(default_factory=list)  # {region, name, area_km2}

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "footprint_km": self.footprint_km,
            "area_km2": self.area_km2,
            "cells_reached": len(self.cells),
            "switched_off": self.switched_off,
            "by_region": self.by_region,
        }


def _lit_area(centres_lat: np.ndarray, centres_lon: np.ndarray, footprint_km: float) -> Any:
    if len(centres_lat) == 0:
        return shapely.Polygon()
    points = shapely.MultiPoint(np.column_stack([centres_lon, centres_lat]))
    return buffer_km(points, footprint_km)


def _split_by(area: Any, pool: list[Region]) -> tuple[list[dict[str, Any]], float]:
    """Rows ``{region, name, area_km2}`` of the parts of ``area`` in each region of ``pool``."""
    rows: list[dict[str, Any]] = []
    total = 0.0
    if area.is_empty or not pool:
        return rows, total
    tree = shapely.STRtree(np.asarray([r.geometry for r in pool], dtype=object))
    for i in tree.query(area, predicate="intersects"):
        part = shapely.intersection(area, pool[int(i)].geometry)
        a = geodesic_area_km2(part)
        if a > 0.01:
            rows.append({"region": pool[int(i)].id, "name": pool[int(i)].name, "area_km2": a})
            total += a
    rows.sort(key=lambda r: -r["area_km2"])
    return rows, total


def spillover(
    region: Region,
    served_lat: np.ndarray,
    served_lon: np.ndarray,
    *,
    direction: Literal["outside", "inside"] = "outside",
    footprint_km: float = DEFAULT_FOOTPRINT_KM,
    resolution: int = 5,
    countries: list[Region] | None = None,
    switched_off: list[Region] | None = None,
) -> Spillover:
    """Spillover of beams centred on ``served_lat/lon`` with radius ``footprint_km``.

    ``direction="outside"``: the lit area outside ``region`` (an activation lights its
    neighbours); the parts inside ``switched_off`` regions are reported apart from the
    countries. ``direction="inside"``: the lit area inside ``region`` (a deactivated region
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
    off_rows: list[dict[str, Any]] = []
    by_region: list[dict[str, Any]] = []
    if not spill.is_empty and area > 0:
        rest = spill
        for off in switched_off or []:
            part = shapely.intersection(rest, off.geometry)
            a = geodesic_area_km2(part)
            if a > 0.01:
                off_rows.append({"region": off.id, "name": off.name, "area_km2": a})
                rest = shapely.make_valid(shapely.difference(rest, off.geometry))
        rest_area = area - sum(r["area_km2"] for r in off_rows)
        pool = countries if countries is not None else world().countries
        by_region, land_area = _split_by(rest, pool)
        if rest_area - land_area > 0.01:
            by_region.append({"region": "", "name": "sea", "area_km2": rest_area - land_area})
            by_region.sort(key=lambda r: -r["area_km2"])
    cells = (
        Region("spill", "spill", spill).cells(resolution)
        if area > 0
        else np.zeros(0, dtype=np.uint64)
    )
    return Spillover(direction, float(footprint_km), float(area), cells, by_region, spill, off_rows)


def excluded_regions(expression: str, w: Worldview | None = None) -> list[Region]:
    """The regions an expression takes away at its top level: ``UA - crimea`` → ``[crimea]``.

    ``A - B - C`` gives ``[B, C]``; an expression whose top level is a union or intersection
    (``A | B - C``), or that takes nothing away, gives ``[]``.

    Examples
    --------
    >>> [r.id for r in excluded_regions("UA - crimea")]
    ['crimea']
    >>> excluded_regions("TW")
    []
    """
    w = world() if w is None else w
    text = expression.strip()
    minus = _top_level_minus(text)
    if minus is None:
        return []
    if not minus and text.startswith("(") and text.endswith(")"):
        inner = text[1:-1]
        if _top_level_minus(inner) is not None and _balanced(inner):
            return excluded_regions(inner, w)
    for i in reversed(minus):
        left, right = text[:i].strip(), text[i + 1 :].strip()
        if not left or not right:
            continue
        try:
            taken = parse_region(right, w)
            parse_region(left, w)
        except SkyfenceError:  # a hyphen inside a name (crimea-coast, a file name)
            continue
        return [*excluded_regions(left, w), taken]
    return []


def _top_level_minus(text: str) -> list[int] | None:
    """Positions of ``-`` outside parentheses and quotes; ``None`` if ``|`` or ``&`` is there."""
    depth, quoted, found = 0, False, []
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and ch in "|&":
            return None
        elif depth == 0 and ch == "-":
            found.append(i)
    return found


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


@dataclass
class WhatIfReport:
    """Everything a what-if run found; ``to_dict()`` is the JSON form.

    ``coverage`` is what the network gives the region's cells when it is switched on there
    (the *after* of an activation, the *before* of a deactivation). ``surroundings`` (a
    deactivation only) is the coverage of the cells around the region, which stay on.
    """

    action: str
    expression: str
    region: Region
    worldview: str
    region_countries: list[str]
    switched_off: list[Region]
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
    surroundings: Coverage | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def lands_abroad(self) -> bool:
        return self.lands_abroad_share > 0

    @property
    def served_fraction_after(self) -> np.ndarray:
        """Per cell of ``coverage``: the share of time served after the switch."""
        if self.action == "activate":
            return self.coverage.served_fraction
        return np.zeros(len(self.coverage))

    def to_dict(self) -> dict[str, Any]:
        cells = self.coverage.table()
        for row, after in zip(cells, self.served_fraction_after.tolist(), strict=True):
            row["served_fraction_after"] = after
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
            "switched_off": [
                {"id": r.id, "name": r.name, "area_km2": r.area_km2} for r in self.switched_off
            ],
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
            "cells": cells,
            # the H3 cells the spillover reaches (the map draws them; see Spillover.cells)
            "spillover_cells": [f"{int(c):x}" for c in self.spill.cells.tolist()],
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


def check_whatif_inputs(
    action: str,
    *,
    duration_s: float,
    step_s: float,
    resolution: int,
    footprint_km: float,
    rule: str,
    gateway_radius_km: float = PLAN_RADIUS_KM,
) -> None:
    """Refuse bad parameters of :func:`run_whatif` before any work starts."""
    if action not in ACTIONS:
        raise InputError(f"action {action!r} is not one of {', '.join(ACTIONS)}")
    if not (np.isfinite(duration_s) and duration_s >= 0):
        raise InputError(f"the window must be >= 0 seconds, got {duration_s:g}")
    if not (np.isfinite(step_s) and step_s > 0):
        raise InputError(f"the step must be > 0 seconds, got {step_s:g}")
    if duration_s / step_s + 1 > MAX_STEPS:
        raise InputError(
            f"a window of {duration_s:g} s at {step_s:g} s has {duration_s / step_s + 1:,.0f} "
            f"steps, more than {MAX_STEPS:,}; use a longer --step or a shorter --window"
        )
    if (
        isinstance(resolution, bool)
        or int(resolution) != resolution
        or (resolution not in H3_RESOLUTIONS)
    ):
        raise InputError(
            f"H3 resolution must be a whole number {H3_RESOLUTIONS.start}.."
            f"{H3_RESOLUTIONS.stop - 1}, got {resolution!r} (5 ≈ the operator's service cells)"
        )
    if not (np.isfinite(footprint_km) and 0 < footprint_km <= 1000):
        raise InputError(f"the beam footprint must be > 0 and <= 1000 km, got {footprint_km:g}")
    if not (np.isfinite(gateway_radius_km) and gateway_radius_km > 0):
        raise InputError(f"the gateway radius must be > 0 km, got {gateway_radius_km:g}")
    if rule not in COVERAGE_RULES:
        raise InputError(f"rule {rule!r} is not one of {', '.join(COVERAGE_RULES)}")


def run_whatif(
    expression: str,
    action: Literal["activate", "deactivate"] = "activate",
    *,
    constellation: Any = None,
    gateways: GroundSites | Literal["plan"] = "plan",
    pops: GroundSites | None = None,
    start: str | np.datetime64 | None = DEFAULT_START,
    duration_s: float = 3600.0,
    step_s: float = 15.0,
    resolution: int = 5,
    footprint_km: float = DEFAULT_FOOTPRINT_KM,
    in_country: bool = True,
    gateway_radius_km: float = PLAN_RADIUS_KM,
    pop_map: Any = None,
    rule: str = DEFAULT_RULE,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
    latency: LatencyModel | None = None,
    gateway_min_elevation_deg: float = 25.0,
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
        Also compute coverage when traffic must land in the region's countries (activation).
    gateway_radius_km : float
        The planner's coverage radius for the baseline plan.
    pop_map : PopMap, optional
        Home PoP by place (default: the nearest PoP).
    rule : str
        Satellite-selection rule (default :data:`skyfence.links.DEFAULT_RULE`, as every
        command).
    executor, progress
        See :func:`skyfence.analysis.coverage.compute_coverage`; ``progress`` counts shards
        over every coverage run of the report.
    latency : LatencyModel, optional
        The RTT model of both coverage runs (default: :class:`skyfence.links.LatencyModel`).
    gateway_min_elevation_deg : float
        The gateways' elevation mask of both runs (the latency model's, so that a what-if
        routes as ``links terminal`` does).
    """
    check_whatif_inputs(
        action, duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=footprint_km, rule=rule, gateway_radius_km=gateway_radius_km,
    )  # fmt: skip
    from skyfence.orbits import Constellation

    w = world()
    region = parse_region(expression, w)
    if region.geometry.is_empty or region.area_km2 <= 0:
        raise InputError(f"region {expression!r} is empty; check the expression")
    times = time_grid(parse_time(start), duration_s, step_s)
    activate = action == "activate"
    switched_off = excluded_regions(expression, w) if activate else [region]
    avoid = avoid_regions(switched_off)
    constellation = constellation or Constellation.from_preset("starlink-gen1")
    pops = with_iso2_countries(pops if pops is not None else default_pops())
    cells = region.cells(resolution)
    check_cell_steps(len(cells), len(times))
    lat, lon = cell_centres(cells)
    countries = _region_countries(region, lat, lon)

    notes: list[str] = []
    if isinstance(gateways, str):
        if gateways != "plan":
            raise InputError(f"gateways must be a GroundSites table or 'plan', got {gateways!r}")
        baseline = planned_gateways(
            pops, without_countries=countries if activate else (), avoid=avoid,
            radius_km=gateway_radius_km,
        )  # fmt: skip
        where = f"outside {', '.join(countries) or 'the region'}" if activate else "outside it"
        notes.append(
            f"Baseline gateways: the planner's {len(baseline)} sites {where} "
            "(a planning model, not the operator's list)."
        )
        gateway_source = "plan"
    else:
        baseline = with_iso2_countries(gateways)
        gateway_source = gateways.source or "user file"
        if avoid is not None and avoid(baseline.latitude_deg, baseline.longitude_deg).any():
            notes.append(
                "Some gateways of the given file stand in a switched-off area; they were used "
                "as given."
            )
    if len(baseline) == 0:
        raise InputError("no gateways to serve from: give a gateway file or use the planner")
    if switched_off and activate:
        names = ", ".join(r.id for r in switched_off)
        notes.append(
            f"{names} is excluded from the activation (switched off): no gateway is planned "
            "there, and the light spilling into it is reported on its own."
        )

    # the cells around a switched-off region stay on: their coverage is part of the run
    ring_cells = np.zeros(0, dtype=np.uint64)
    if not activate:
        ring = Region("ring", "ring", buffer_km(region.geometry, 3.0 * footprint_km))
        ring_cells = np.setdiff1d(ring.cells(resolution), cells)
        rlat, rlon = cell_centres(ring_cells)
        ring_cells = ring_cells[~region.contains(rlat, rlon)] if len(ring_cells) else ring_cells
    all_cells = np.concatenate([cells, ring_cells]).astype(np.uint64)

    plan_in_country = in_country and activate and bool(countries)
    runs = 2 if plan_in_country else 1
    n_shards = -(-len(times) // STEPS_PER_SHARD)
    done_offset = [0]

    def sub_progress(done: int, total: int) -> None:
        if progress:
            progress(done_offset[0] + done, runs * n_shards)

    model = NetworkModel(
        constellation, baseline, pops, pop_map=pop_map, latency=latency,
        gateway_min_elevation_deg=gateway_min_elevation_deg,
    )  # fmt: skip
    cov_all = compute_coverage(
        all_cells, times, constellation=constellation, model=model, progress=sub_progress,
        meta={"run": "baseline"}, rule=rule, executor=executor,
        steps_per_shard=STEPS_PER_SHARD,
    )  # fmt: skip
    done_offset[0] += n_shards
    in_region = np.arange(len(all_cells)) < len(cells)
    cov = cov_all.subset(in_region) if len(ring_cells) else cov_all
    surroundings = cov_all.subset(~in_region) if len(ring_cells) else None

    served_summary = cov.summary()
    zero = _zero_summary(served_summary)
    before, after = (zero, served_summary) if activate else (served_summary, zero)

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
    if plan_in_country:
        add = in_country_gateways(
            pops, countries, avoid=avoid, radius_km=min(gateway_radius_km, IN_COUNTRY_RADIUS_KM)
        )
        planned_rows = add.to_records()
        pops_in = in_country_pops(pops, countries, avoid=avoid)
        gws_in = baseline.concat(add) if len(add) else baseline
        model_in = NetworkModel(
            constellation, gws_in, pops_in, pop_map=pop_map, latency=latency,
            gateway_min_elevation_deg=gateway_min_elevation_deg,
        )  # fmt: skip
        cov_in = compute_coverage(
            cells, times, constellation=constellation, model=model_in,
            constraint_countries=countries, terminal_country=countries[0],
            progress=sub_progress, meta={"run": "in-country"}, rule=rule, executor=executor,
            steps_per_shard=STEPS_PER_SHARD,
        )  # fmt: skip
        in_country_summary = cov_in.summary()
        in_country_summary["gateways_used"] = cov_in.usage("gateway")
        in_country_summary["pops_used"] = cov_in.usage("pop")
    elif in_country and activate:
        notes.append("The region holds no country's land, so no in-country landing was computed.")
    elif in_country:
        notes.append("A region switched off gets no landing plan: no gateway is planned for it.")

    if activate:
        served = cov.served_fraction > 0
        spill = spillover(
            region, lat[served], lon[served], direction="outside", footprint_km=footprint_km,
            resolution=resolution, switched_off=switched_off,
        )  # fmt: skip
    else:
        assert surroundings is not None or len(ring_cells) == 0
        lit = surroundings.served_fraction > 0 if surroundings is not None else np.zeros(0, bool)
        slat = surroundings.latitude_deg[lit] if surroundings is not None else np.zeros(0)
        slon = surroundings.longitude_deg[lit] if surroundings is not None else np.zeros(0)
        spill = spillover(
            region, slat, slon, direction="inside", footprint_km=footprint_km,
            resolution=resolution,
        )  # fmt: skip
        notes.append(
            f"After the switch-off the region's {len(cells)} cells are dark; the "
            f"{len(ring_cells)} cells around it stay on, and their beams still light part of "
            "the region (spillover)."
        )
    inside = region.contains(lat, lon)
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
        switched_off=switched_off,
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
            "rule": rule,
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
        surroundings=surroundings,
        notes=notes,
    )


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
