"""The demo: the main job on built-in data, no files needed.

It builds a constellation preset (Starlink Gen1 as filed with the FCC, April 2021) with its
epoch at ``start``, propagates every satellite over the window (speed, mean altitude of each
shell against its filing, where a few satellites are), then asks the project's question —
what if the network were switched on over a region (Taiwan by default)? — over **the same
window and the same constellation**, and writes the what-if report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skyfence.app._progress import ProgressCallback
from skyfence.app.context import App
from skyfence.app.network import check_sat_steps, load_constellation
from skyfence.app.whatif import WhatIfRun, whatif
from skyfence.errors import InputError

__all__ = [
    "DEFAULT_PRESET",
    "DEFAULT_REGION",
    "DEFAULT_START",
    "ConstellationSummary",
    "DemoResult",
    "PropagationRun",
    "demo",
]

DEFAULT_PRESET = "starlink-gen1"
DEFAULT_START = "2026-02-22T00:00:00Z"
DEFAULT_REGION = "TW"
SUBPOINT_SATELLITES = 5
ALTITUDE_DEFINITION = "mean over the run of |r| - 6378.137 km (WGS84 equatorial radius)"


@dataclass(frozen=True)
class ConstellationSummary:
    """A constellation's shells and status counts, and the filing it comes from."""

    source: str
    satellites: int
    shells: list[dict[str, Any]]
    status: dict[str, int]
    description: str
    source_document: str


@dataclass(frozen=True)
class PropagationRun:
    """What a propagation run did and how fast, with the flown altitude of each shell."""

    satellites: int
    steps: int
    start: np.datetime64
    end: np.datetime64
    step_s: float
    seconds: float
    sat_steps_per_s: int | None
    failed_sat_steps: int
    workers: int
    shells: list[dict[str, Any]]
    subpoints: list[dict[str, Any]]
    altitude_definition: str = ALTITUDE_DEFINITION


@dataclass
class DemoResult:
    """The three parts of the demo."""

    constellation: ConstellationSummary
    propagation: PropagationRun
    whatif: WhatIfRun

    def to_dict(self) -> dict[str, Any]:
        return {
            "constellation": self.constellation,
            "propagation": self.propagation,
            "whatif": self.whatif.to_dict(),
        }


def _summary(c: Any, preset: str) -> ConstellationSummary:
    from skyfence.orbits import STATUSES, get_preset

    p = get_preset(preset)
    return ConstellationSummary(
        source=c.name, satellites=len(c), shells=c.summary(),
        status={s: int(np.count_nonzero(c.status == s)) for s in STATUSES},
        description=p.description, source_document=p.source,
    )  # fmt: skip


def _propagate(
    c: Any, times: np.ndarray, step_s: float, workers: int, progress: ProgressCallback | None
) -> PropagationRun:
    from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM

    t0 = time.perf_counter()
    eph = c.propagate(times, workers=workers, geodetic=True, progress=progress)
    elapsed = time.perf_counter() - t0
    s = eph.shape[0]
    radius = eph.radius_km
    shells = []
    for k, shell in enumerate(c.shells):
        sel = c.shell_id == k
        mean_r_alt = float(np.nanmean(radius[sel]) - EARTH_EQUATORIAL_RADIUS_KM)
        shells.append(
            {
                "shell": shell.name,
                "filed_altitude_km": shell.altitude_km,
                "mean_altitude_km": round(mean_r_alt, 3),
                "mean_height_above_ellipsoid_km": round(float(np.nanmean(eph.altitude_km[sel])), 3),
                "difference_km": round(mean_r_alt - shell.altitude_km, 3),
            }
        )
    picks = np.linspace(0, s - 1, SUBPOINT_SATELLITES).round().astype(int)
    subpoints = [
        {
            "name": str(eph.names[i]),
            "norad_id": int(eph.norad_ids[i]),
            "time": times[0],
            "latitude_deg": round(float(eph.latitude_deg[i, 0]), 4),
            "longitude_deg": round(float(eph.longitude_deg[i, 0]), 4),
            "altitude_km": round(float(eph.altitude_km[i, 0]), 3),
        }
        for i in picks
    ]
    t = len(times)
    return PropagationRun(
        satellites=s, steps=t, start=times[0], end=times[-1], step_s=float(step_s),
        seconds=round(elapsed, 3),
        sat_steps_per_s=round(s * t / elapsed) if elapsed > 0 else None,
        failed_sat_steps=int(np.count_nonzero(eph.error_codes)), workers=workers,
        shells=shells, subpoints=subpoints,
    )  # fmt: skip


def demo(
    app: App,
    *,
    preset: str = DEFAULT_PRESET,
    start: str | np.datetime64 = DEFAULT_START,
    duration_s: float = 3600.0,
    step_s: float = 15.0,
    workers: int = 1,
    region: str = DEFAULT_REGION,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo: the preset as filed, its propagation, and the what-if report of ``region``.

    ``start`` is the preset's epoch, the start of the propagation and the start of the
    what-if window; ``duration_s`` and ``step_s`` are the window of both. Everything is
    checked before the work starts (including ``out``; see :func:`skyfence.app.whatif.whatif`).

    ``progress(done, total)`` follows each stage in turn; ``on_stage(name)`` is called when a
    stage starts (``"propagating"``, then ``"activate <region>"``).
    """
    from skyfence.analysis.report import check_output_dir
    from skyfence.analysis.whatif import check_whatif_inputs
    from skyfence.links import DEFAULT_RULE
    from skyfence.orbits import get_preset
    from skyfence.regions import parse_region
    from skyfence.timeutil import parse_time, time_grid

    get_preset(preset.strip().lower())  # an unknown preset fails here, naming the choices
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise InputError(f"--workers must be a whole number >= 1, got {workers!r}")
    check_whatif_inputs(
        "activate", duration_s=duration_s, step_s=step_s, resolution=5,
        footprint_km=12.0, rule=DEFAULT_RULE,
    )  # fmt: skip
    t0 = parse_time(start)
    parse_region(region, app.world)
    if out is not None:
        check_output_dir(out, overwrite=overwrite)
    times = time_grid(t0, duration_s, step_s)
    c = load_constellation(app, preset, epoch=t0)
    check_sat_steps(len(c), len(times))
    if on_stage:
        on_stage("propagating")
    run = _propagate(c, times, step_s, int(workers), progress)
    if on_stage:
        on_stage(f"activate {region}")
    report = whatif(
        app, region, "activate", constellation=c, start=t0, duration_s=duration_s,
        step_s=step_s, out=out, overwrite=overwrite, progress=progress,
    )  # fmt: skip
    return DemoResult(_summary(c, preset.strip().lower()), run, report)
