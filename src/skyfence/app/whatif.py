"""What-if and coverage runs: switch a region on or off, or measure its coverage, and write it.

Both operations check everything they can before the long work starts — the region
expression, the window, the resolution, the input files and the output path — so a mistake
costs a second, not a run. A what-if report goes to a fresh directory that is never replaced
by accident: by default ``<reports_dir>/whatif-<action>-<region>-<start>-run-<run id>``, the
run id being the UTC time of the run; an explicit ``out`` that exists is refused unless
``overwrite``.

The network is loaded as every command loads it (:func:`skyfence.app.network.load_network`):
the same gateway plan, the same satellite-selection rule (:data:`skyfence.links.DEFAULT_RULE`)
and the same latency model (``NetworkSpec.latency_model``, by default the calibrated
``starlink-2026-03``), so a place and time get the RTT ``links terminal`` gives.

With a gateway file, the gateways the latency model infers where the file has holes (see
:mod:`skyfence.ground.inference`) join it — except inside the region of the what-if and its
switched-off areas (before an activation the region does not license the service; after a
deactivation it is dark). They are reported apart: every gateway row carries ``inferred``,
the setup counts them and a note says what share of the service they carry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
from skyfence.app._progress import ProgressCallback
from skyfence.app.context import App
from skyfence.app.network import (
    NetworkSpec,
    inferred_gateways,
    latency_model_of,
    load_constellation,
    load_network,
    load_sites,
)

if TYPE_CHECKING:
    from skyfence.analysis.coverage import Coverage
    from skyfence.analysis.whatif import WhatIfReport
    from skyfence.ground import GroundSites
    from skyfence.orbits import Constellation
    from skyfence.scale.runner import Parallel

__all__ = [
    "COVERAGE_SUFFIXES",
    "CoverageRun",
    "DEFAULT_START",
    "WhatIfRun",
    "coverage",
    "whatif",
]

#: File kinds ``coverage(out=...)`` writes, chosen by the suffix.
COVERAGE_SUFFIXES = (".geojson", ".json", ".parquet", ".png")


@dataclass
class WhatIfRun:
    """A what-if report and where it was written."""

    report: WhatIfReport
    run_id: str
    out: Path
    files: dict[str, Path]

    def to_dict(self) -> dict[str, Any]:
        """The report's JSON form without the per-cell rows (nor the spillover's cells),
        plus the run id and the files."""
        data = self.report.to_dict()
        data.pop("cells")
        data.pop("spillover_cells")
        data["run_id"] = self.run_id
        data["files"] = {k: str(v) for k, v in self.files.items()}
        return data


def _default_out(app: App, action: str, expression: str, start_iso: str, run_id: str) -> Path:
    from skyfence.analysis.report import report_dirname

    base = Path(app.settings.reports_dir).expanduser()
    out = base / report_dirname(action, expression, start_iso, run_id)
    n = 2
    while out.exists():  # two runs in the same second
        out = base / f"{report_dirname(action, expression, start_iso, run_id)}-{n}"
        n += 1
    return out


def whatif(
    app: App,
    expression: str,
    action: Literal["activate", "deactivate"] = "activate",
    *,
    network: NetworkSpec | None = None,
    constellation: Constellation | None = None,
    start: str | np.datetime64 = DEFAULT_START,
    duration_s: float = 3600.0,
    step_s: float = 15.0,
    resolution: int = 5,
    footprint_km: float = DEFAULT_FOOTPRINT_KM,
    in_country: bool = True,
    rule: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    parallel: Parallel | None = None,
) -> WhatIfRun:
    """Run a what-if (see :func:`skyfence.analysis.whatif.run_whatif`) and write its report.

    Parameters
    ----------
    network : NetworkSpec, optional
        Constellation, gateways, PoPs and PoP map (default: Starlink Gen1, planned gateways,
        built-in PoPs).
    constellation : Constellation, optional
        A constellation already built (the demo passes its own); overrides
        ``network.constellation``.
    out : path, optional
        Report directory (default: a new directory under the settings' ``reports_dir``).
    overwrite : bool
        Replace ``out`` if it exists (otherwise an existing ``out`` is refused before the run).
    progress : callable, optional
        ``progress(done, total)`` over the coverage shards.
    parallel : Parallel, optional
        Where the coverage shards run (default: this process); see
        :mod:`skyfence.scale.runner`. The report is the same wherever they run.
    """
    from skyfence.analysis.report import check_output_dir, new_run_id, write_whatif_report
    from skyfence.analysis.whatif import check_whatif_inputs, run_whatif
    from skyfence.links import DEFAULT_RULE
    from skyfence.links.calibration import DEFAULT_GATEWAY_MIN_ELEVATION_DEG
    from skyfence.regions import parse_region
    from skyfence.timeutil import datetime64_to_iso, parse_time

    rule = DEFAULT_RULE if rule is None else rule
    network = network or NetworkSpec()
    check_whatif_inputs(
        action, duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=footprint_km, rule=rule,
    )  # fmt: skip
    t0 = parse_time(start)
    parse_region(expression, app.world)  # a bad expression fails here, before any work
    run_id = new_run_id()
    if out is None:
        out = _default_out(app, action, expression, datetime64_to_iso(t0), run_id)
    out_dir = check_output_dir(out, overwrite=overwrite)
    named = latency_model_of(network)
    gateways, pops, pop_map = load_sites(network)
    inferred = None
    if gateways is not None:
        inferred = _inferred_outside(app, named, gateways, pops, pop_map, expression, action)
        gateways = gateways.concat(inferred) if len(inferred) else gateways
    if constellation is None:
        constellation = load_constellation(
            app, network.constellation, skip_invalid=network.skip_invalid
        )
    from skyfence.scale.runner import open_runner

    with open_runner(parallel) as runner:
        report = run_whatif(
            expression, action, constellation=constellation,
            gateways="plan" if gateways is None else gateways, pops=pops, pop_map=pop_map,
            start=t0, duration_s=duration_s, step_s=step_s, resolution=resolution,
            footprint_km=footprint_km, in_country=in_country, rule=rule, progress=progress,
            latency=named.latency, executor=runner if runner.is_parallel else None,
            gateway_min_elevation_deg=(
                DEFAULT_GATEWAY_MIN_ELEVATION_DEG
                if named.gateway_min_elevation_deg is None
                else named.gateway_min_elevation_deg
            ),
        )  # fmt: skip
    _mark_inferred(report, named.label, inferred)
    files = write_whatif_report(report, out_dir, overwrite=overwrite)
    return WhatIfRun(report, run_id, out_dir, files)


def _inferred_outside(
    app: App, named: Any, gateways: GroundSites, pops: GroundSites, pop_map: Any,
    expression: str, action: str,
) -> GroundSites:  # fmt: skip
    """The inferred gateways of a what-if: none inside the region or its switched-off areas."""
    from skyfence.analysis.gateways import avoid_regions
    from skyfence.analysis.whatif import excluded_regions
    from skyfence.regions import parse_region

    extra = inferred_gateways(named, gateways, pops, pop_map)
    if len(extra) == 0:
        return extra
    region = parse_region(expression, app.world)
    off = excluded_regions(expression, app.world) if action == "activate" else []
    inside = avoid_regions([region, *off])
    if inside is None:
        return extra
    return extra.subset(~np.asarray(inside(extra.latitude_deg, extra.longitude_deg), bool))


def _flag_rows(rows: list[dict[str, Any]], inferred_ids: set[str]) -> float:
    """Add ``inferred`` to gateway rows (and say so in the name); the inferred share."""
    share = 0.0
    for row in rows:
        row["inferred"] = row["id"] in inferred_ids
        if row["inferred"]:
            share += float(row.get("share", 0.0))
            if "inferred" not in str(row["name"]):
                row["name"] = f"{row['name']} (inferred)"
    return share


def _mark_inferred(report: WhatIfReport, model_label: str, inferred: GroundSites | None) -> None:
    """Report the inferred gateways apart: flags on every gateway row, counts in the setup,
    and a note with the share of the service they carry."""
    ids = set() if inferred is None else {str(i) for i in inferred.id}
    share = _flag_rows(report.gateways_used, ids)
    if report.in_country is not None:
        _flag_rows(report.in_country.get("gateways_used", []), ids)
    report.setup["latency_model"] = model_label
    report.setup["inferred_gateways"] = len(ids)
    if ids:
        report.setup["gateways"] = f"{report.setup['gateways']} + {len(ids)} inferred"
        used = [r["id"] for r in report.gateways_used if r["inferred"]]
        report.notes.append(
            f"{len(ids)} gateway(s) were inferred where the gateway list has none near a PoP "
            f"that serves customers (not in the list; marked 'inferred'); {len(used)} of them "
            f"carry {share:.1%} of the served cell-steps."
        )


@dataclass
class CoverageRun:
    """Coverage of a region per H3 cell over a window, and the file it was written to."""

    expression: str
    region_name: str
    region_area_km2: float
    worldview: str
    start: np.datetime64
    steps: int
    step_s: float
    resolution: int
    rule: str
    out: Path | None
    coverage: Coverage = field(repr=False)
    latency_model: str = ""
    inferred_gateways: list[str] = field(default_factory=list)

    def gateways_used(self, limit: int = 10) -> list[dict[str, Any]]:
        """The gateways carrying most of the service, each with ``inferred``."""
        rows = self.coverage.usage("gateway")[:limit]
        _flag_rows(rows, set(self.inferred_gateways))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: region, window, summary, gateways used and one row per cell."""
        return {
            "region": {
                "expression": self.expression, "name": self.region_name,
                "area_km2": self.region_area_km2,
            },
            "worldview": self.worldview,
            "window": {"start": self.start, "steps": self.steps, "step_s": self.step_s},
            "resolution": self.resolution,
            "rule": self.rule,
            "summary": self.coverage.summary(),
            "latency_model": self.latency_model,
            "inferred_gateways": self.inferred_gateways,
            "gateways_used": self.gateways_used(),
            "cells": self.coverage.table(),
            "out": str(self.out) if self.out else None,
        }  # fmt: skip


def coverage(
    app: App,
    expression: str,
    *,
    network: NetworkSpec | None = None,
    start: str | np.datetime64 = DEFAULT_START,
    duration_s: float = 3600.0,
    step_s: float = 15.0,
    resolution: int = 5,
    rule: str | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    parallel: Parallel | None = None,
) -> CoverageRun:
    """Coverage of a region per H3 cell: time served, satellites in view, RTT, handovers.

    ``out`` (``.geojson``, ``.json``, ``.parquet`` — GeoParquet — or ``.png``, a map) is
    checked before the run and refused if it exists, unless ``overwrite``. ``parallel`` says
    where the time shards run (:mod:`skyfence.scale.runner`); the result is the same.
    """
    from skyfence.analysis.coverage import compute_coverage
    from skyfence.analysis.maps import coverage_map_figure, map_quantity, save_png
    from skyfence.analysis.report import check_output_file
    from skyfence.analysis.whatif import check_whatif_inputs
    from skyfence.links import DEFAULT_RULE
    from skyfence.regions import parse_region
    from skyfence.timeutil import parse_time, time_grid

    rule = DEFAULT_RULE if rule is None else rule
    network = network or NetworkSpec()
    check_whatif_inputs(
        "activate", duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=DEFAULT_FOOTPRINT_KM, rule=rule,
    )  # fmt: skip
    times = time_grid(parse_time(start), duration_s, step_s)
    out_path = None
    if out is not None:
        out_path = check_output_file(out, suffixes=COVERAGE_SUFFIXES, overwrite=overwrite)
    region = parse_region(expression, app.world)
    net = load_network(app, network)
    cells = region.cells(resolution)
    from skyfence.scale.runner import open_runner

    with open_runner(parallel) as runner:
        cov = compute_coverage(
            cells, times, constellation=net.constellation, model=net.model, progress=progress,
            rule=rule, executor=runner if runner.is_parallel else None,
        )  # fmt: skip
    inferred_ids = [str(i) for i in net.inferred_gateways.id]
    run_gateways = cov.usage("gateway")[:10]
    _flag_rows(run_gateways, set(inferred_ids))
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        suffix = out_path.suffix.lower()
        if suffix == ".parquet":
            cov.to_parquet(out_path)
        elif suffix == ".png":
            figure = coverage_map_figure(
                cov.cells, map_quantity(cov.served_fraction, cov.rtt_p50_ms),
                title=f"coverage of {expression}", region_geometry=region.geometry,
                gateways=run_gateways, worldview=app.world,
            )  # fmt: skip
            save_png(figure, out_path)
        else:
            cov.to_geojson(out_path)
    return CoverageRun(
        expression=expression, region_name=region.name, region_area_km2=region.area_km2,
        worldview=app.world.worldview, start=times[0], steps=len(times),
        step_s=float(step_s), resolution=int(resolution), rule=rule, out=out_path, coverage=cov,
        latency_model=net.latency_model.label if net.latency_model else "",
        inferred_gateways=inferred_ids,
    )  # fmt: skip
