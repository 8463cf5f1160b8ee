"""What-if and coverage runs: switch a region on or off, or measure its coverage, and write it.

Both operations check everything they can before the long work starts — the region
expression, the window, the resolution, the input files and the output path — so a mistake
costs a second, not a run. A what-if report goes to a fresh directory that is never replaced
by accident: by default ``<reports_dir>/whatif-<action>-<region>-<start>-run-<run id>``, the
run id being the UTC time of the run; an explicit ``out`` that exists is refused unless
``overwrite``.

The network is loaded as every command loads it (:func:`skyfence.app.network.load_network`):
the same gateway plan and the same satellite-selection rule
(:data:`skyfence.links.DEFAULT_RULE`), so a place and time get the RTT ``links terminal``
gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from skyfence.analysis.defaults import DEFAULT_FOOTPRINT_KM, DEFAULT_START
from skyfence.app._progress import ProgressCallback
from skyfence.app.context import App
from skyfence.app.network import NetworkSpec, load_constellation, load_network, load_sites

if TYPE_CHECKING:
    from skyfence.analysis.coverage import Coverage
    from skyfence.analysis.whatif import WhatIfReport
    from skyfence.orbits import Constellation

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
        """The report's JSON form without the per-cell rows, plus the run id and the files."""
        data = self.report.to_dict()
        data.pop("cells")
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
    """
    from skyfence.analysis.report import check_output_dir, new_run_id, write_whatif_report
    from skyfence.analysis.whatif import check_whatif_inputs, run_whatif
    from skyfence.links import DEFAULT_RULE
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
    gateways, pops, pop_map = load_sites(network)
    if constellation is None:
        constellation = load_constellation(app, network.constellation)
    report = run_whatif(
        expression, action, constellation=constellation,
        gateways="plan" if gateways is None else gateways, pops=pops, pop_map=pop_map,
        start=t0, duration_s=duration_s, step_s=step_s, resolution=resolution,
        footprint_km=footprint_km, in_country=in_country, rule=rule, progress=progress,
    )  # fmt: skip
    files = write_whatif_report(report, out_dir, overwrite=overwrite)
    return WhatIfRun(report, run_id, out_dir, files)


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
            "gateways_used": self.coverage.usage("gateway")[:10],
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
) -> CoverageRun:
    """Coverage of a region per H3 cell: time served, satellites in view, RTT, handovers.

    ``out`` (``.geojson``, ``.json``, ``.parquet`` — GeoParquet — or ``.png``, a map) is
    checked before the run and refused if it exists, unless ``overwrite``.
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
    cov = compute_coverage(
        cells, times, constellation=net.constellation, model=net.model, progress=progress,
        rule=rule,
    )  # fmt: skip
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        suffix = out_path.suffix.lower()
        if suffix == ".parquet":
            cov.to_parquet(out_path)
        elif suffix == ".png":
            figure = coverage_map_figure(
                cov.cells, map_quantity(cov.served_fraction, cov.rtt_p50_ms),
                title=f"coverage of {expression}", region_geometry=region.geometry,
                gateways=cov.usage("gateway")[:10], worldview=app.world,
            )  # fmt: skip
            save_png(figure, out_path)
        else:
            cov.to_geojson(out_path)
    return CoverageRun(
        expression=expression, region_name=region.name, region_area_km2=region.area_km2,
        worldview=app.world.worldview, start=times[0], steps=len(times),
        step_s=float(step_s), resolution=int(resolution), rule=rule, out=out_path, coverage=cov,
    )  # fmt: skip
