"""CLI: ``skyfence region lookup | show | list``: which regions hold a point, what an expression
covers, which codes exist. Every command prints the worldview in force."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from skyfence.cli._common import JsonOption, console, emit, progress_bar
from skyfence.errors import InputError, NotFoundError

BoundariesOption = Annotated[
    Path | None,
    typer.Option(
        "--boundaries",
        help="Country boundaries to use instead of the built-in Natural Earth 1:10m (German "
        "point of view): a Natural Earth admin-0 .zip/.shp or a GeoJSON FeatureCollection.",
    ),
]


def _world(boundaries: Path | None):  # type: ignore[no-untyped-def]
    from skyfence.regions import world

    return world(boundaries)


def lookup(
    lat: Annotated[float, typer.Argument(help="Latitude in degrees (use -- before negatives).")],
    lon: Annotated[float, typer.Argument(help="Longitude in degrees.")],
    maritime_km: Annotated[
        float,
        typer.Option("--maritime-km", help="Sea band each country claims, km (22.2 = 12 nmi)."),
    ] = 0.0,
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """The regions containing a point: its country (if any) and built-in regions."""
    from skyfence.regions import BUILTIN_NAMES

    if not -90.0 <= lat <= 90.0 or not np.isfinite(lon):
        raise InputError(
            f"latitude must be within -90..90 degrees and longitude finite, got {lat}, {lon}"
        )
    from skyfence.regions import RegionIndex

    w = _world(boundaries)
    # index only the countries near the point (same answers as the world index, much faster)
    import shapely

    margin_deg = 0.5 + maritime_km / 30.0  # generous: 1° of latitude is 111 km
    from skyfence.regions.region import wrap_lon

    point = shapely.Point(float(wrap_lon(np.array([lon]))[0]), lat)
    near = [r for r in w.countries if shapely.dwithin(r.geometry, point, margin_deg)]
    near = near or w.countries[:1]
    with progress_bar("building region index", enabled=not as_json) as progress:
        idx = RegionIndex(near, maritime_km=maritime_km, progress=progress)
    country = int(idx.lookup([lat], [lon])[0])
    _, members = idx.memberships([lat], [lon])
    found: list[dict[str, Any]] = []
    for i in members:
        r = idx.regions[int(i)]
        found.append(
            {"id": r.id, "name": r.name, "kind": r.kind, "alpha3": r.attributes.get("alpha3", "")}
        )
    for name in BUILTIN_NAMES:
        try:
            r = w.region(name)
        except NotFoundError:  # a worldview without the country the region is cut from
            continue
        if r.area_km2 > 0 and bool(r.contains(lat, lon)[0]):
            found.append({"id": r.id, "name": r.name, "kind": r.kind, "alpha3": ""})
    data = {
        "latitude_deg": lat,
        "longitude_deg": lon,
        "worldview": w.worldview,
        "maritime_km": maritime_km,
        "country": idx.regions[country].id if country >= 0 else None,
        "regions": found,
    }

    def human(d: dict[str, Any]) -> None:
        console.print(
            f"({lat:.5f}, {lon:.5f})  worldview: {d['worldview']}"
            + (f", maritime band {maritime_km:g} km" if maritime_km else ", land only")
        )
        if not d["regions"]:
            console.print("in no region")
        for r in d["regions"]:
            console.print(f"  {r['id']:<8} {r['name']}  ({r['kind']})")

    emit(data, as_json, human)


def show(
    expression: Annotated[str, typer.Argument(help="Region expression, e.g. 'UA - crimea'.")],
    res: Annotated[int, typer.Option("--res", help="H3 resolution of the cell cover (0-9).")] = 5,
    png: Annotated[Path | None, typer.Option("--png", help="Write a map of the region.")] = None,
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Area, H3 cell count and bounds of a region expression; optionally a PNG map."""
    from skyfence.regions import parse_region

    w = _world(boundaries)
    region = parse_region(expression, w)
    cells = region.cells(res)
    data: dict[str, Any] = {
        "expression": expression,
        "id": region.id,
        "name": region.name,
        "kind": region.kind,
        "worldview": region.worldview or w.worldview,
        "area_km2": round(region.area_km2, 1),
        "resolution": res,
        "cell_count": int(len(cells)),
        "bounds": {
            "min_lon": region.bounds[0],
            "min_lat": region.bounds[1],
            "max_lon": region.bounds[2],
            "max_lat": region.bounds[3],
        },
        "png": str(png) if png else None,
    }
    if png is not None:
        _plot(region, cells, res, png, data["worldview"])

    def human(d: dict[str, Any]) -> None:
        b = d["bounds"]
        console.print(f"{d['id']}  ({d['name']})")
        console.print(f"  worldview : {d['worldview']}")
        console.print(f"  area      : {d['area_km2']:,.1f} km²")
        console.print(f"  H3 res {res} : {d['cell_count']:,} cells (centre inside or touching)")
        console.print(
            f"  bounds    : lon {b['min_lon']:.3f}..{b['max_lon']:.3f}, "
            f"lat {b['min_lat']:.3f}..{b['max_lat']:.3f}"
        )
        if d["png"]:
            console.print(f"  map       : {d['png']}")

    emit(data, as_json, human)


def _plot(region, cells: np.ndarray, res: int, png: Path, worldview: str) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import shapely
    from matplotlib.collections import PolyCollection

    from skyfence.regions import _geo

    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    try:
        polys = [
            np.asarray(_geo._cell_polygon(int(c)).exterior.coords)
            for c in cells[:200_000]
            if _geo._cell_polygon(int(c)).geom_type == "Polygon"
        ]
        ax.add_collection(
            PolyCollection(
                polys, facecolor="#9ecae1", edgecolor="#3182bd", linewidth=0.3, alpha=0.6
            )
        )
        lines = shapely.get_parts(
            shapely.boundary(region.geometry)
            if shapely.get_dimensions(region.geometry) == 2
            else region.geometry
        )
        for line in lines:
            for part in shapely.get_parts(line):
                xy = shapely.get_coordinates(part)
                ax.plot(xy[:, 0], xy[:, 1], color="#b30000", linewidth=0.8)
        minx, miny, maxx, maxy = region.bounds
        pad = max(maxx - minx, maxy - miny, 0.1) * 0.05
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect(1.0 / max(np.cos(np.radians((miny + maxy) / 2)), 0.1))
        ax.set_xlabel("longitude (°)")
        ax.set_ylabel("latitude (°)")
        ax.set_title(f"{region.id}: {len(cells):,} H3 cells at res {res}", fontsize=10)
        fig.text(0.01, 0.01, f"boundaries: {worldview}", fontsize=7)
        png.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png)
    except OSError as exc:
        raise InputError(f"cannot write {png}: {exc}") from exc
    finally:
        plt.close(fig)


def list_regions(
    boundaries: BoundariesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Country codes (ISO alpha-2/alpha-3) and names of the worldview, and built-in regions."""
    from skyfence.regions import BUILTIN_NAMES

    w = _world(boundaries)
    rows = [
        {
            "id": r.id,
            "alpha3": r.attributes.get("alpha3", ""),
            "name": r.name,
            "type": r.attributes.get("type", ""),
            "kind": r.kind,
        }
        for r in w.countries
    ]
    rows += [
        {"id": n, "alpha3": "", "name": text, "type": "", "kind": "builtin"}
        for n, text in BUILTIN_NAMES.items()
    ]
    data = {"worldview": w.worldview, "regions": rows}

    def human(d: dict[str, Any]) -> None:
        table = Table(title=f"Regions — {d['worldview']}")
        for col in ("id", "alpha3", "name", "type"):
            table.add_column(col)
        for r in d["regions"]:
            table.add_row(r["id"], r["alpha3"], r["name"], r["type"] or r["kind"])
        console.print(table)

    emit(data, as_json, human)


def register(root: typer.Typer) -> None:
    """Add the ``region`` group: ``lookup``, ``show``, ``list``."""
    app = typer.Typer(
        help="Country boundaries (with their worldview), region expressions, point look-ups.",
        no_args_is_help=True,
    )
    # negative coordinates are arguments, not options
    app.command("lookup", context_settings={"ignore_unknown_options": True})(lookup)
    app.command("show")(show)
    app.command("list")(list_regions)
    root.add_typer(app, name="region")
