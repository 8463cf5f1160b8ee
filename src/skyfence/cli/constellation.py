"""CLI: ``skyfence constellation presets | describe | propagate | convert``.

``describe`` and ``propagate`` take an element-set FILE (TLE, 3LE, OMM JSON/CSV/XML) or
``--preset NAME``; files are clustered into shells, planes and slots on the way in.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, err_console, progress_bar
from skyfence.errors import InputError

app = typer.Typer(
    help="Constellations: presets from filings, real element sets clustered into shells, "
    "SGP4 propagation to Earth-fixed positions.",
    no_args_is_help=True,
)

FileArgument = Annotated[
    Path | None,
    typer.Argument(help="Element-set file (TLE, 3LE, OMM JSON/CSV/XML).", show_default=False),
]
PresetOption = Annotated[
    str | None,
    typer.Option(
        "--preset", "-p", help="A built-in preset (see `skyfence constellation presets`)."
    ),
]


def load_constellation(
    file: Path | None, preset: str | None, epoch: str | None = None, *, cluster: bool = True
) -> Any:
    """The constellation named by a FILE argument or a ``--preset`` option (exactly one).

    Files are clustered into shells unless ``cluster`` is False (propagation does not need it).
    """
    from skyfence.orbits import Constellation, ElementSet, preset_names

    if (file is None) == (preset is None):
        raise InputError(
            "give an element-set FILE or --preset NAME (one of: "
            f"{', '.join(preset_names())}), not both and not neither"
        )
    if preset is not None:
        return Constellation.from_preset(preset, epoch)
    assert file is not None
    if not file.exists():
        raise InputError(f"element-set file {str(file)!r} does not exist")
    if not cluster:
        return Constellation(ElementSet.from_file(file))
    return Constellation.from_file(file)


# ---------------------------------------------------------------------- presets
@app.command("presets")
def presets(as_json: JsonOption = False) -> None:
    """List the built-in constellation presets with the filing each comes from."""
    from skyfence.orbits import get_preset, preset_names

    rows = []
    for name in preset_names():
        p = get_preset(name)
        rows.append(
            {
                "name": p.name,
                "satellites": p.total,
                "shells": [
                    {
                        "name": s.name,
                        "altitude_km": s.altitude_km,
                        "inclination_deg": s.inclination_deg,
                        "planes": s.planes,
                        "sats_per_plane": s.sats_per_plane,
                    }
                    for s in p.shells
                ],
                "description": p.description,
                "source": p.source,
            }
        )

    def human(data: list[dict[str, Any]]) -> None:
        table = Table(title="Constellation presets")
        for col in ("name", "satellites", "shells (alt km / inc ° / P×S)", "source"):
            table.add_column(col)
        for r in data:
            shells = "\n".join(
                f"{s['altitude_km']:.0f} / {s['inclination_deg']:.1f} / "
                f"{s['planes']}×{s['sats_per_plane']}"
                for s in r["shells"]
            )
            table.add_row(r["name"], f"{r['satellites']:,}", shells, r["source"])
        console.print(table)

    emit(rows, as_json, human)


# ---------------------------------------------------------------------- describe
def describe_data(c: Any) -> dict[str, Any]:
    """The JSON document ``describe`` prints for a constellation."""
    from skyfence.orbits import STATUSES

    counts = {s: int(np.count_nonzero(c.status == s)) for s in STATUSES}
    return {
        "source": c.name,
        "satellites": len(c),
        "shells": c.summary(),
        "status": counts,
    }


@app.command("describe")
def describe(
    file: FileArgument = None,
    preset: PresetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Print the shells of a constellation: altitude, inclination, satellites, planes, status."""
    busy = err_console.status("reading and clustering") if not as_json else nullcontext()
    with busy:
        c = load_constellation(file, preset)
    data = describe_data(c)
    emit(data, as_json, lambda d: console.print(shell_table(d)))


def shell_table(data: dict[str, Any], title: str | None = None) -> Table:
    """A rich table of ``describe_data(...)["shells"]``."""
    table = Table(
        title=title or f"{data['source']}: {data['satellites']:,} satellites",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("shell", no_wrap=True)
    for col in ("alt km", "inc°", "sats", "planes", "per", "oper", "raise", "decay", "off"):
        table.add_column(col, justify="right", no_wrap=True)
    for r in data["shells"]:
        table.add_row(
            r["shell"],
            "" if r["altitude_km"] is None else f"{r['altitude_km']:.1f}",
            "" if r["inclination_deg"] is None else f"{r['inclination_deg']:.2f}",
            f"{r['satellites']:,}",
            "" if r["planes"] is None else str(r["planes"]),
            "" if r["sats_per_plane"] is None else str(r["sats_per_plane"]),
            str(r["operational"]),
            str(r["raising"]),
            str(r["decaying"]),
            str(r["off-station"]),
        )
    return table


# ---------------------------------------------------------------------- propagate
@app.command("propagate")
def propagate(
    file: FileArgument = None,
    preset: PresetOption = None,
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output file: .npz, .parquet or .csv (long form)."),
    ] = Path("ephemeris.npz"),
    start: Annotated[
        str | None,
        typer.Option(help="Start time, ISO 8601 UTC (default: the median element epoch)."),
    ] = None,
    duration: Annotated[str, typer.Option(help="How long: 90s, 15m, 1h, 1d ...")] = "1h",
    step: Annotated[str, typer.Option(help="Time step: 15s, 1m ...")] = "15s",
    workers: Annotated[int, typer.Option(help="Processes to split the satellites over.")] = 1,
    float32: Annotated[bool, typer.Option("--float32", help="Store float32 (half size).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Propagate with SGP4 and write Earth-fixed positions (+ geodetic) to a file.

    The run is streamed to the file block by block, so memory stays bounded however long it
    is (a day of 9,500 satellites at 15 s is 55 million rows).
    """
    from skyfence.orbits.ephemeris import export_kind, write_stream
    from skyfence.timeutil import parse_duration, parse_time, time_grid

    export_kind(out)  # refuse an unknown suffix before any work
    if not out.parent.exists():
        raise InputError(f"cannot write {out}: directory {out.parent} does not exist")
    duration_s = parse_duration(duration)
    step_s = parse_duration(step)
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    c = load_constellation(file, preset, cluster=False)
    t0 = (
        parse_time(start)
        if start is not None
        else np.datetime64(int(np.median(c.elements.epochs.astype("int64"))), "ns")
    )
    times = time_grid(t0, duration_s, step_s)
    dtype = np.float32 if float32 else np.float64
    failed = 0

    def counted(blocks: Any) -> Any:
        nonlocal failed
        for block in blocks:
            failed += int(np.count_nonzero(block.error_codes))
            yield block

    t_begin = time.perf_counter()
    with progress_bar("propagating", enabled=not as_json) as bar:
        blocks = c.iter_propagate(
            times,
            workers=workers,
            dtype=dtype,
            geodetic=out.suffix.lower() != ".npz",
            progress=bar,
        )
        write_stream(out, counted(blocks), times)
    elapsed = time.perf_counter() - t_begin
    data = {
        "out": str(out),
        **run_summary(len(c), times, failed, step_s, elapsed, workers),
        "dtype": str(np.dtype(dtype)),
    }

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"wrote [bold]{d['out']}[/]: {d['satellites']:,} satellites × {d['steps']:,} steps "
            f"({_iso(d['start'])} → {_iso(d['end'])}, every {d['step_s']:g} s) in "
            f"{d['seconds']:.2f} s, "
            f"{d['sat_steps_per_s']:,} sat-steps/s; {d['failed_sat_steps']:,} failed sat-steps"
        )

    emit(data, as_json, human)


def run_summary(
    n_sats: int, times: np.ndarray, failed: int, step_s: float, elapsed_s: float, workers: int
) -> dict[str, Any]:
    """What a propagation run did and how fast (shared by ``propagate`` and ``demo``)."""
    s, t = n_sats, len(times)
    return {
        "satellites": s,
        "steps": t,
        "start": times[0],
        "end": times[-1],
        "step_s": step_s,
        "seconds": round(elapsed_s, 3),
        "sat_steps_per_s": round(s * t / elapsed_s) if elapsed_s > 0 else None,
        "failed_sat_steps": int(failed),
        "workers": workers,
    }


def _iso(t: Any) -> str:
    from skyfence.timeutil import datetime64_to_iso

    return datetime64_to_iso(t)


# ---------------------------------------------------------------------- convert
@app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="Element-set file to read (any format).")],
    target: Annotated[
        Path,
        typer.Argument(help="File to write; format from the suffix (.tle .3le .json .csv .xml)."),
    ],
    format: Annotated[
        str | None, typer.Option("--format", help="Output format instead of the suffix's.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Convert an element-set file to another format (TLE, 3LE, OMM JSON/CSV/XML)."""
    from skyfence.orbits import ElementSet

    if not source.exists():
        raise InputError(f"element-set file {str(source)!r} does not exist")
    es = ElementSet.from_file(source)
    written = es.to_file(target, format=format)
    data = {"in": str(source), "out": str(written), "satellites": len(es)}
    emit(
        data,
        as_json,
        lambda d: console.print(f"wrote {d['satellites']:,} element sets to [bold]{d['out']}[/]"),
    )


def register(root: typer.Typer) -> None:
    """Add the ``constellation`` group to the root app."""
    root.add_typer(app, name="constellation")
