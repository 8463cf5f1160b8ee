"""CLI: ``skyfence demo`` — the main job on built-in data, no files needed.

A thin adapter over :func:`skyfence.app.demo.demo`: the Starlink Gen1 preset as filed, its
propagation, then the what-if report of switching the network on over Taiwan — all on the one
window that ``--start``, ``--duration`` and ``--step`` give.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from skyfence.cli._common import JsonOption, OverwriteOpt, console, emit, get_app, progress_bar

DEFAULT_PRESET = "starlink-gen1"
DEFAULT_START = "2026-02-22T00:00:00Z"


def _human(data: dict[str, Any]) -> None:
    from skyfence.cli.analysis import human_whatif
    from skyfence.cli.constellation import shell_table
    from skyfence.timeutil import datetime64_to_iso

    c = data["constellation"]
    console.print(f"[bold]{c.description}[/]")
    console.print(f"source: {c.source_document}")
    table_data = {"source": c.source, "satellites": c.satellites, "shells": c.shells}
    console.print(shell_table(table_data, title=f"{c.source}: {c.satellites:,} satellites"))
    p = data["propagation"]
    console.print(
        f"Propagated {p.satellites:,} satellites × {p.steps:,} steps "
        f"({datetime64_to_iso(p.start)} → {datetime64_to_iso(p.end)}, every "
        f"{p.step_s:g} s) in {p.seconds:.2f} s: [bold]{p.sat_steps_per_s or 0:,}[/] "
        f"sat-steps/s (SGP4, TEME→Earth-fixed, WGS84 geodetic); "
        f"{p.failed_sat_steps} failed sat-steps"
    )
    alt = Table(title="Mean altitude per shell vs filed", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("shell", "filed km", "flown km", "diff km", "above ellipsoid km"):
        alt.add_column(col, justify="left" if col == "shell" else "right", no_wrap=True)
    for r in p.shells:
        alt.add_row(
            r["shell"],
            f"{r['filed_altitude_km']:.1f}",
            f"{r['mean_altitude_km']:.3f}",
            f"{r['difference_km']:+.3f}",
            f"{r['mean_height_above_ellipsoid_km']:.1f}",
        )
    console.print(alt)
    console.print(f"altitude = {p.altitude_definition}")
    sub = Table(
        title=f"Sub-satellite points at {datetime64_to_iso(p.start)}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for col in ("satellite", "lat °", "lon °", "height km"):
        sub.add_column(col, justify="left" if col == "satellite" else "right", no_wrap=True)
    for r in p.subpoints:
        sub.add_row(
            r["name"],
            f"{r['latitude_deg']:.4f}",
            f"{r['longitude_deg']:.4f}",
            f"{r['altitude_km']:.3f}",
        )
    console.print(sub)
    console.print()
    human_whatif(data["whatif"])


def demo(
    preset: Annotated[str, typer.Option("--preset", help="Constellation preset.")] = DEFAULT_PRESET,
    start: Annotated[
        str,
        typer.Option(
            help="Start of the window (ISO 8601 UTC): the preset's epoch, the propagation and "
            "the what-if report all start here."
        ),
    ] = DEFAULT_START,
    duration: Annotated[
        str, typer.Option(help="Length of the window (propagation and what-if).")
    ] = "1h",
    step: Annotated[str, typer.Option(help="Time step.")] = "15s",
    workers: Annotated[int, typer.Option(help="Processes for propagation.")] = 1,
    region: Annotated[
        str, typer.Option("--region", help="Region to activate in the what-if report.")
    ] = "TW",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Report directory (default: a new one per run under ./skyfence-reports); an "
            "existing one is refused unless --overwrite.",
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
    as_json: JsonOption = False,
) -> None:
    """The main job, no files needed: Starlink Gen1 as filed, then the Taiwan what-if report."""
    from skyfence.app.demo import demo as run_demo
    from skyfence.timeutil import parse_duration

    duration_s, step_s = parse_duration(duration), parse_duration(step)
    with progress_bar("demo", enabled=not as_json) as bar:
        result = run_demo(
            get_app(), preset=preset, start=start, duration_s=duration_s, step_s=step_s,
            workers=workers, region=region, out=out, overwrite=overwrite, progress=bar,
            on_stage=bar.stage,
        )  # fmt: skip
    data = result.to_dict()
    emit(data, as_json, _human)


def register(root: typer.Typer) -> None:
    """Add ``skyfence demo`` to the root app."""
    root.command("demo")(demo)
