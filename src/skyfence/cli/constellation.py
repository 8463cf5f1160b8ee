"""CLI: ``skyfence constellation presets | describe | propagate | convert``.

``describe`` and ``propagate`` take an element-set FILE (TLE, 3LE, OMM JSON/CSV/XML) or
``--preset NAME``; files are clustered into shells, planes and slots on the way in. Every
command that reads element sets takes ``--skip-invalid`` (leave invalid records out and list
them) and other commands load constellations through :func:`load_constellation`.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich import box
from rich.table import Table

from skyfence.cli._common import (
    JsonOption,
    SkipInvalidOpt,
    console,
    emit,
    err_console,
    get_app,
    progress_bar,
)
from skyfence.errors import InputError, NotFoundError

LARGE_OUTPUT_BYTES = 4 * 10**9
"""``propagate`` asks before writing a file estimated above this (4 GB), or refuses without
``--yes`` when it cannot ask."""

# bytes per satellite-step of each output format, measured on 500 satellites of the real
# snapshot over 2 h (npz compresses little; Parquet and CSV are long form with geodetic
# columns); estimates, good to about 10 %
_BYTES_PER_SAT_STEP = {
    ("npz", 8): 23,
    ("npz", 4): 11,
    ("parquet", 8): 55,
    ("parquet", 4): 37,
    ("csv", 8): 170,
    ("csv", 4): 117,
}

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


def read_element_file(path: Path, *, skip_invalid: bool = False) -> Any:
    """``ElementSet.from_file`` (``on_invalid='skip'`` with ``skip_invalid``)."""
    from skyfence.orbits import ElementSet

    if not path.exists():
        raise NotFoundError(f"element-set file {str(path)!r} does not exist")
    return ElementSet.from_file(path, on_invalid="skip" if skip_invalid else "raise")


def _from_args(
    file: Path | None, preset: str | None, *, skip_invalid: bool, cluster: bool = True
) -> Any:
    """The constellation of a FILE argument or a ``--preset`` option (exactly one)."""
    from skyfence.orbits import Constellation, preset_names

    if (file is None) == (preset is None):
        raise InputError(
            "give an element-set FILE or --preset NAME (one of: "
            f"{', '.join(preset_names())}), not both and not neither"
        )
    if preset is not None:
        return Constellation.from_preset(preset)
    assert file is not None
    if not file.exists():
        raise NotFoundError(f"element-set file {str(file)!r} does not exist")
    from skyfence.app.network import load_constellation

    return load_constellation(get_app(), file, skip_invalid=skip_invalid, cluster=cluster)


def skip_report(elements: Any) -> dict[str, Any]:
    """What reading left out: invalid records (line, record, NORAD id, reason) and duplicates."""
    return {
        "invalid_skipped": len(elements.skipped),
        "skipped": [
            {"line": s.line, "record": s.record, "norad_id": s.norad_id, "reason": s.reason}
            for s in elements.skipped
        ],
        "duplicates_dropped": int(elements.duplicates_dropped),
    }


def print_skip_report(report: dict[str, Any], shown: int = 5) -> None:
    """The human form of :func:`skip_report`: a count and the first few reasons."""
    n = report["invalid_skipped"]
    if n:
        console.print(f"[yellow]skipped {n:,} invalid element-set record{'s' if n > 1 else ''}:[/]")
        for s in report["skipped"][:shown]:
            where = f"line {s['line']}" if s["line"] is not None else f"record {s['record']}"
            norad = f" (NORAD {s['norad_id']})" if s["norad_id"] is not None else ""
            console.print(f"  {where}{norad}: {s['reason']}", markup=False, highlight=False)
        if n > shown:
            console.print(f"  ... and {n - shown:,} more (--json lists them all)")
    if report["duplicates_dropped"]:
        console.print(
            f"{report['duplicates_dropped']:,} older element sets of the same NORAD ids dropped "
            "(the newest is kept)"
        )


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
    skip_invalid: SkipInvalidOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Print the shells of a constellation: altitude, inclination, satellites, planes, status."""
    busy = err_console.status("reading and clustering") if not as_json else nullcontext()
    with busy:
        c = _from_args(file, preset, skip_invalid=skip_invalid)
    data = {**describe_data(c), **skip_report(c.elements)}

    def human(d: dict[str, Any]) -> None:
        console.print(shell_table(d))
        print_skip_report(d)

    emit(data, as_json, human)


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
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help=f"Write even when the file is estimated above {LARGE_OUTPUT_BYTES / 1e9:g} GB "
            "(otherwise asked, or refused when not interactive).",
        ),
    ] = False,
    interpolate: Annotated[
        bool,
        typer.Option(
            "--interpolate",
            help="Run SGP4 at knots minutes apart and interpolate the steps between (10x "
            "faster for dense grids; within --tolerance-m of plain SGP4).",
        ),
    ] = False,
    tolerance_m: Annotated[
        float,
        typer.Option("--tolerance-m", help="Largest error --interpolate may add, metres."),
    ] = 10.0,
    skip_invalid: SkipInvalidOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Propagate with SGP4 and write Earth-fixed positions (+ geodetic) to a file.

    The run is streamed to the file block by block, so memory stays bounded however long it
    is (a day of 9,500 satellites at 15 s is 55 million rows). The output path is checked
    and the file's size estimated before any work; above 4 GB you are asked (or need --yes).
    """
    from skyfence.orbits.ephemeris import export_kind, write_stream
    from skyfence.timeutil import parse_duration, parse_time, time_grid

    kind = export_kind(out)  # refuse an unknown suffix before any work
    check_writable(out)
    duration_s = parse_duration(duration)
    step_s = parse_duration(step)
    if workers < 1:
        raise InputError(f"--workers must be >= 1, got {workers}")
    if not (np.isfinite(tolerance_m) and tolerance_m > 0):
        raise InputError(f"--tolerance-m must be a positive number of metres, got {tolerance_m}")
    c = _from_args(file, preset, skip_invalid=skip_invalid, cluster=False)
    t0 = (
        parse_time(start)
        if start is not None
        else np.datetime64(int(np.median(c.elements.epochs.astype("int64"))), "ns")
    )
    times = time_grid(t0, duration_s, step_s)
    dtype = np.float32 if float32 else np.float64
    estimate = estimate_output_bytes(kind, len(c), len(times), np.dtype(dtype).itemsize)
    confirm_large_output(out, estimate, len(c), len(times), yes=yes)
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
            interpolate=interpolate,
            tolerance_m=tolerance_m,
        )
        write_stream(out, counted(blocks), times)
    elapsed = time.perf_counter() - t_begin
    data = {
        "out": str(out),
        **run_summary(len(c), times, failed, step_s, elapsed, workers),
        "dtype": str(np.dtype(dtype)),
        "interpolated": interpolate,
        "tolerance_m": tolerance_m if interpolate else None,
        "bytes_estimated": estimate,
        "bytes_written": out.stat().st_size,
        **skip_report(c.elements),
    }

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"wrote [bold]{d['out']}[/] ({d['bytes_written'] / 1e6:,.1f} MB): "
            f"{d['satellites']:,} satellites × {d['steps']:,} steps "
            f"({_iso(d['start'])} → {_iso(d['end'])}, every {d['step_s']:g} s) in "
            f"{d['seconds']:.2f} s, "
            f"{d['sat_steps_per_s']:,} sat-steps/s; {d['failed_sat_steps']:,} failed sat-steps"
        )
        print_skip_report(d)

    emit(data, as_json, human)


def check_writable(out: Path) -> None:
    """Refuse, before any work, an output path whose directory is missing or not writable.

    Writability is tried (a temporary file is made and removed), not inferred from the
    permission bits, which say nothing for root or for read-only file systems.
    """
    directory = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InputError(f"cannot write {str(out)!r}: it is a directory; give a file name")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"cannot write {str(out)!r}: {str(directory)!r} is not a directory")
    if not directory.is_dir():
        raise InputError(
            f"cannot write {str(out)!r}: the directory {str(directory)!r} does not exist"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=directory)
    except OSError as exc:
        raise InputError(
            f"cannot write {str(out)!r}: the directory {str(directory)!r} is not writable "
            f"({exc.strerror or exc}); choose another --out"
        ) from None
    os.close(fd)
    os.unlink(probe)


def estimate_output_bytes(kind: str, n_sats: int, n_steps: int, itemsize: int) -> int:
    """About how many bytes ``propagate`` writes (measured bytes per satellite-step)."""
    return int(_BYTES_PER_SAT_STEP[(kind, 8 if itemsize == 8 else 4)] * n_sats * n_steps)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm_large_output(out: Path, estimate: int, n_sats: int, n_steps: int, *, yes: bool) -> None:
    """Ask before writing more than :data:`LARGE_OUTPUT_BYTES`; refuse when nobody can answer."""
    if estimate <= LARGE_OUTPUT_BYTES or yes:
        return
    what = (
        f"{str(out)!r} would be about {estimate / 1e9:,.1f} GB ({n_sats:,} satellites × "
        f"{n_steps:,} steps)"
    )
    if not _interactive():
        raise InputError(
            f"{what}; pass --yes to write it anyway, or shorten --duration, lengthen --step "
            "or use --float32"
        )
    if not typer.confirm(f"{what}. Write it?", default=False, err=True):
        raise InputError(f"{what}; nothing written (answered no)")


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
    skip_invalid: SkipInvalidOpt = False,
    as_json: JsonOption = False,
) -> None:
    """Convert an element-set file to another format (TLE, 3LE, OMM JSON/CSV/XML)."""
    es = read_element_file(source, skip_invalid=skip_invalid)
    written = es.to_file(target, format=format)
    data = {"in": str(source), "out": str(written), "satellites": len(es), **skip_report(es)}

    def human(d: dict[str, Any]) -> None:
        console.print(f"wrote {d['satellites']:,} element sets to [bold]{d['out']}[/]")
        print_skip_report(d)

    emit(data, as_json, human)


def register(root: typer.Typer) -> None:
    """Add the ``constellation`` group to the root app."""
    root.add_typer(app, name="constellation")
