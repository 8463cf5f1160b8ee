"""CLI: ``skyfence demo`` — the main job on built-in data, no files needed.

It builds the Starlink Gen1 preset (FCC, April 2021), prints its shells, propagates every
satellite for an hour at 15-second steps (speed, mean altitude of each shell against its
filing, where a few satellites are), then asks the project's question: what if the network
were switched on over Taiwan? — and writes the what-if report (planned gateways, built-in
PoPs, a 1-hour window at 15 s).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, progress_bar

DEFAULT_PRESET = "starlink-gen1"
DEFAULT_START = "2026-02-22T00:00:00Z"
SUBPOINT_SATELLITES = 5


def constellation_section(preset: str, start: str) -> tuple[Any, dict[str, Any]]:
    """The preset's constellation and its summary (shells as filed)."""
    from skyfence.cli.constellation import describe_data
    from skyfence.orbits import Constellation, get_preset

    c = Constellation.from_preset(preset, epoch=start)
    data = describe_data(c)
    data["description"] = get_preset(preset).description
    data["source_document"] = get_preset(preset).source
    return c, data


def propagation_section(
    c: Any, start: str, duration_s: float, step_s: float, workers: int, progress: Any
) -> dict[str, Any]:
    """Propagate everything and measure: speed, mean altitude per shell vs filed, subpoints."""
    from skyfence.cli.constellation import run_summary
    from skyfence.orbits.physics import EARTH_EQUATORIAL_RADIUS_KM
    from skyfence.timeutil import time_grid

    times = time_grid(start, duration_s, step_s)
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
    return {
        **run_summary(s, times, int(np.count_nonzero(eph.error_codes)), step_s, elapsed, workers),
        "shells": shells,
        "subpoints": subpoints,
        "altitude_definition": "mean over the run of |r| - 6378.137 km (WGS84 equatorial radius)",
    }


def _human(data: dict[str, Any]) -> None:
    from skyfence.cli.constellation import shell_table
    from skyfence.timeutil import datetime64_to_iso

    c = data["constellation"]
    console.print(f"[bold]{c['description']}[/]")
    console.print(f"source: {c['source_document']}")
    console.print(shell_table(c, title=f"{c['source']}: {c['satellites']:,} satellites"))
    p = data["propagation"]
    console.print(
        f"Propagated {p['satellites']:,} satellites × {p['steps']:,} steps "
        f"({datetime64_to_iso(p['start'])} → {datetime64_to_iso(p['end'])}, every "
        f"{p['step_s']:g} s) in {p['seconds']:.2f} s: [bold]{p['sat_steps_per_s']:,}[/] "
        f"sat-steps/s (SGP4, TEME→Earth-fixed, WGS84 geodetic); "
        f"{p['failed_sat_steps']} failed sat-steps"
    )
    alt = Table(title="Mean altitude per shell vs filed", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("shell", "filed km", "flown km", "diff km", "above ellipsoid km"):
        alt.add_column(col, justify="left" if col == "shell" else "right", no_wrap=True)
    for r in p["shells"]:
        alt.add_row(
            r["shell"],
            f"{r['filed_altitude_km']:.1f}",
            f"{r['mean_altitude_km']:.3f}",
            f"{r['difference_km']:+.3f}",
            f"{r['mean_height_above_ellipsoid_km']:.1f}",
        )
    console.print(alt)
    console.print(f"altitude = {p['altitude_definition']}")
    sub = Table(
        title=f"Sub-satellite points at {datetime64_to_iso(p['start'])}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("satellite", "lat °", "lon °", "height km"):
        sub.add_column(col, justify="left" if col == "satellite" else "right", no_wrap=True)
    for r in p["subpoints"]:
        sub.add_row(
            r["name"],
            f"{r['latitude_deg']:.4f}",
            f"{r['longitude_deg']:.4f}",
            f"{r['altitude_km']:.3f}",
        )
    console.print(sub)


def demo(
    preset: Annotated[str, typer.Option("--preset", help="Constellation preset.")] = DEFAULT_PRESET,
    start: Annotated[str, typer.Option(help="Start time (ISO 8601 UTC).")] = DEFAULT_START,
    duration: Annotated[str, typer.Option(help="How long to propagate.")] = "1h",
    step: Annotated[str, typer.Option(help="Time step.")] = "15s",
    workers: Annotated[int, typer.Option(help="Processes for propagation.")] = 1,
    region: Annotated[
        str, typer.Option("--region", help="Region to activate in the what-if report.")
    ] = "TW",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Report directory (default: under ./skyfence-reports)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The main job, no files needed: Starlink Gen1 as filed, then the Taiwan what-if report."""
    from skyfence.cli.analysis import DEFAULT_START as WHATIF_START
    from skyfence.cli.analysis import run_whatif_cli
    from skyfence.errors import InputError
    from skyfence.timeutil import parse_duration, parse_time

    duration_s = parse_duration(duration)
    step_s = parse_duration(step)
    parse_time(start)
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    c, summary = constellation_section(preset, start)
    with progress_bar("propagating", enabled=not as_json) as bar:
        run = propagation_section(c, start, duration_s, step_s, workers, bar)
    if not as_json:
        _human({"constellation": summary, "propagation": run})
    whatif = run_whatif_cli(
        "activate", region, constellation=preset, start=WHATIF_START, window=duration,
        step=step, out=out,
    )  # fmt: skip
    emit({"constellation": summary, "propagation": run, "whatif": whatif}, as_json, _human_whatif)


def _human_whatif(data: dict[str, Any]) -> None:
    from skyfence.cli.analysis import human_whatif

    console.print()
    human_whatif(data["whatif"])


def register(root: typer.Typer) -> None:
    """Add ``skyfence demo`` to the root app."""
    root.command("demo")(demo)
