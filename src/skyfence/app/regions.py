"""Operations on regions: which regions hold a point, what an expression covers, which exist.

Every result names the worldview in force (the boundary data and its choices for disputed
areas). ``boundaries`` replaces the built-in worldview with a Natural Earth admin-0 file or a
GeoJSON FeatureCollection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from skyfence.app._progress import ProgressCallback
from skyfence.app.context import App
from skyfence.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from skyfence.regions import Worldview

__all__ = [
    "PNG_SUFFIXES",
    "PointLookup",
    "RegionEntry",
    "RegionHit",
    "RegionListing",
    "RegionSummary",
    "list_regions",
    "lookup_point",
    "show_region",
]

PNG_SUFFIXES = (".png",)


def _world(app: App, boundaries: str | Path | None) -> Worldview:
    if boundaries is None:
        return app.world
    from skyfence.regions import world

    path = Path(boundaries).expanduser()
    if not path.exists():
        raise NotFoundError(f"--boundaries {path}: no such file")
    return world(path)


@dataclass(frozen=True)
class RegionHit:
    """A region that holds a point."""

    id: str
    name: str
    kind: str
    alpha3: str


@dataclass(frozen=True)
class PointLookup:
    """The regions holding a point; ``country`` is the one country (or ``None`` at sea)."""

    latitude_deg: float
    longitude_deg: float
    worldview: str
    maritime_km: float
    country: str | None
    regions: list[RegionHit]


def lookup_point(
    app: App,
    latitude_deg: float,
    longitude_deg: float,
    *,
    maritime_km: float = 0.0,
    boundaries: str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> PointLookup:
    """The regions containing a point: its country (if any) and the built-in regions.

    ``maritime_km`` gives each country a band of sea (22.2 km = 12 nautical miles).
    """
    import shapely

    from skyfence.regions import BUILTIN_NAMES, RegionIndex
    from skyfence.regions.region import wrap_lon

    if not (np.isfinite(latitude_deg) and -90.0 <= latitude_deg <= 90.0) or not np.isfinite(
        longitude_deg
    ):
        raise InputError(
            "latitude must be within -90..90 degrees and longitude finite, got "
            f"{latitude_deg}, {longitude_deg}"
        )
    if not (np.isfinite(maritime_km) and 0.0 <= maritime_km <= 500.0):
        raise InputError(f"--maritime-km must be within 0..500 km, got {maritime_km}")
    w = _world(app, boundaries)
    # index only the countries near the point (same answers as the world index, much faster)
    margin_deg = 0.5 + maritime_km / 30.0  # generous: 1° of latitude is 111 km
    point = shapely.Point(float(wrap_lon(np.array([longitude_deg]))[0]), latitude_deg)
    near = [r for r in w.countries if shapely.dwithin(r.geometry, point, margin_deg)]
    near = near or w.countries[:1]
    idx = RegionIndex(near, maritime_km=maritime_km, progress=progress)
    country = int(idx.lookup([latitude_deg], [longitude_deg])[0])
    _, members = idx.memberships([latitude_deg], [longitude_deg])
    found = [
        RegionHit(r.id, r.name, r.kind, r.attributes.get("alpha3", ""))
        for r in (idx.regions[int(i)] for i in members)
    ]
    for name in BUILTIN_NAMES:
        try:
            r = w.region(name)
        except NotFoundError:  # a worldview without the country the region is cut from
            continue
        if r.area_km2 > 0 and bool(r.contains(latitude_deg, longitude_deg)[0]):
            found.append(RegionHit(r.id, r.name, r.kind, ""))
    return PointLookup(
        latitude_deg, longitude_deg, w.worldview, maritime_km,
        idx.regions[country].id if country >= 0 else None, found,
    )  # fmt: skip


@dataclass(frozen=True)
class RegionSummary:
    """What a region expression covers: area, H3 cell count at a resolution, bounds."""

    expression: str
    id: str
    name: str
    kind: str
    worldview: str
    area_km2: float
    resolution: int
    cell_count: int
    bounds: dict[str, float]
    png: Path | None


def show_region(
    app: App,
    expression: str,
    *,
    resolution: int = 5,
    png: str | Path | None = None,
    overwrite: bool = False,
    boundaries: str | Path | None = None,
) -> RegionSummary:
    """Area, H3 cell count and bounds of a region expression; optionally a PNG map.

    The PNG path is checked before any work (suffix, writable place, not there already unless
    ``overwrite``).
    """
    from skyfence.analysis.maps import region_map_figure, save_png
    from skyfence.analysis.report import check_output_file
    from skyfence.regions import H3_RESOLUTIONS, parse_region

    if isinstance(resolution, bool) or resolution not in H3_RESOLUTIONS:
        raise InputError(
            f"--res must be a whole number {H3_RESOLUTIONS.start}..{H3_RESOLUTIONS.stop - 1}, "
            f"got {resolution!r}"
        )
    png_path = None
    if png is not None:
        png_path = check_output_file(
            png, suffixes=PNG_SUFFIXES, overwrite=overwrite, option="--png"
        )
    w = _world(app, boundaries)
    region = parse_region(expression, w)
    cells = region.cells(resolution)
    b = region.bounds
    summary = RegionSummary(
        expression=expression, id=region.id, name=region.name, kind=region.kind,
        worldview=region.worldview or w.worldview, area_km2=round(region.area_km2, 1),
        resolution=int(resolution), cell_count=int(len(cells)),
        bounds={"min_lon": b[0], "min_lat": b[1], "max_lon": b[2], "max_lat": b[3]},
        png=png_path,
    )  # fmt: skip
    if png_path is not None:
        png_path.parent.mkdir(parents=True, exist_ok=True)
        save_png(region_map_figure(region, cells, resolution, w), png_path)
    return summary


@dataclass(frozen=True)
class RegionEntry:
    """A region of the worldview or a built-in region."""

    id: str
    alpha3: str
    name: str
    type: str
    kind: str


@dataclass(frozen=True)
class RegionListing:
    """Every country of a worldview and the built-in regions."""

    worldview: str
    regions: list[RegionEntry]


def list_regions(app: App, *, boundaries: str | Path | None = None) -> RegionListing:
    """Country codes (ISO alpha-2/alpha-3) and names of the worldview, and built-in regions."""
    from skyfence.regions import BUILTIN_NAMES

    w = _world(app, boundaries)
    rows = [
        RegionEntry(
            r.id, r.attributes.get("alpha3", ""), r.name, r.attributes.get("type", ""), r.kind
        )
        for r in w.countries
    ]
    rows += [RegionEntry(n, "", text, "", "builtin") for n, text in BUILTIN_NAMES.items()]
    return RegionListing(w.worldview, rows)
