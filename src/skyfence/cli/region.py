"""CLI: ``skyfence region lookup | show | list``: which regions hold a point, what an expression
covers, which codes exist. Every command prints the worldview in force.

Thin adapters over :mod:`skyfence.app.regions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from skyfence.cli._common import JsonOption, OverwriteOpt, console, emit, get_app, progress_bar

BoundariesOption = Annotated[
    Path | None,
    typer.Option(
        "--boundaries",
        help="Country boundaries to use instead of the built-in Natural Earth 1:10m (German "
        "point of view): a Natural Earth admin-0 .zip/.shp or a GeoJSON FeatureCollection.",
    ),
]


def lookup(
    lat: Annotated[float, typer.Argument(help="Latitude in degrees (south is negative).")],
    lon: Annotated[float, typer.Argument(help="Longitude in degrees (west is negative).")],
    maritime_km: Annotated[
        float,
        typer.Option("--maritime-km", help="Sea band each country claims, km (22.2 = 12 nmi)."),
    ] = 0.0,
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """The regions containing a point: its country (if any) and built-in regions."""
    from skyfence.app.regions import lookup_point

    with progress_bar("building region index", enabled=not as_json) as progress:
        found = lookup_point(
            get_app(), lat, lon, maritime_km=maritime_km, boundaries=boundaries,
            progress=progress,
        )  # fmt: skip

    def human(d: Any) -> None:
        console.print(
            f"({lat:.5f}, {lon:.5f})  worldview: {d.worldview}"
            + (f", maritime band {d.maritime_km:g} km" if d.maritime_km else ", land only")
        )
        if not d.regions:
            console.print("in no region")
        for r in d.regions:
            console.print(f"  {r.id:<8} {r.name}  ({r.kind})")

    emit(found, as_json, human)


def show(
    expression: Annotated[str, typer.Argument(help="Region expression, e.g. 'UA - crimea'.")],
    res: Annotated[int, typer.Option("--res", help="H3 resolution of the cell cover (0-9).")] = 5,
    png: Annotated[Path | None, typer.Option("--png", help="Write a map of the region.")] = None,
    overwrite: OverwriteOpt = False,
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Area, H3 cell count and bounds of a region expression; optionally a PNG map."""
    from skyfence.app.regions import show_region

    summary = show_region(
        get_app(), expression, resolution=res, png=png, overwrite=overwrite,
        boundaries=boundaries,
    )  # fmt: skip

    def human(d: Any) -> None:
        b = d.bounds
        console.print(f"{d.id}  ({d.name})")
        console.print(f"  worldview : {d.worldview}")
        console.print(f"  area      : {d.area_km2:,.1f} km²")
        console.print(
            f"  H3 res {d.resolution} : {d.cell_count:,} cells (centre inside or touching)"
        )
        console.print(
            f"  bounds    : lon {b['min_lon']:.3f}..{b['max_lon']:.3f}, "
            f"lat {b['min_lat']:.3f}..{b['max_lat']:.3f}"
        )
        if d.png:
            console.print(f"  map       : {d.png}")

    emit(summary, as_json, human)


def list_regions(
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Country codes (ISO alpha-2/alpha-3) and names of the worldview, and built-in regions."""
    from skyfence.app.regions import list_regions as listing

    data = listing(get_app(), boundaries=boundaries)

    def human(d: Any) -> None:
        table = Table(title=f"Regions — {d.worldview}")
        for col in ("id", "alpha3", "name", "type"):
            table.add_column(col)
        for r in d.regions:
            table.add_row(r.id, r.alpha3, r.name, r.type or r.kind)
        console.print(table)

    emit(data, as_json, human)


def register(root: typer.Typer) -> None:
    """Add the ``region`` group: ``lookup``, ``show``, ``list``."""
    app = typer.Typer(
        help="Country boundaries (with their worldview), region expressions, point look-ups.",
        no_args_is_help=True,
    )
    app.command("lookup")(lookup)
    app.command("show")(show)
    app.command("list")(list_regions)
    root.add_typer(app, name="region")
