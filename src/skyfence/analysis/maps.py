"""PNG maps and plots of coverage, what-if reports and regions (matplotlib's object API).

Figures are built as :class:`matplotlib.figure.Figure` on an Agg canvas — never through
``pyplot`` or ``matplotlib.use()`` — so library code leaves the caller's matplotlib state
alone. Every map draws a basemap of the countries in view (filled land, outlines and names,
from the worldview in force: no internet), and uses colour-blind-safe colours: ``cividis``
for shares of time and ``viridis`` for times, and the Okabe–Ito palette for markers and lines.

What a coverage map colours (:func:`map_quantity`): the **share of time served** in classes
that set partial cells apart from always- and never-served ones; when every cell is served all
the time that share carries no information, so the map colours the **median RTT** instead and
says so in its title and colour bar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h3
import numpy as np
import shapely

from skyfence.files import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from skyfence.regions import Region, Worldview

__all__ = [
    "MapQuantity",
    "coverage_map_figure",
    "map_quantity",
    "region_map_figure",
    "rtt_cdf_figure",
    "save_png",
    "SERVED_CLASSES",
]

#: Okabe & Ito (2008) colours, distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
LAND = "#ececec"
SEA = "#f7fbff"
BORDER = "#8c8c8c"

#: Classes of the share of time served: (lower edge, label). The first and the last are the
#: exact values 0 and 1, so a partly served cell never looks like an always-served one.
SERVED_CLASSES: tuple[tuple[float, str], ...] = (
    (0.0, "never"),
    (1e-9, "< 20 %"),
    (0.2, "20–40 %"),
    (0.4, "40–60 %"),
    (0.6, "60–80 %"),
    (0.8, "80–99 %"),
    (1.0 - 1e-9, "always"),
)


@dataclass(frozen=True)
class MapQuantity:
    """What a coverage map colours: per-cell ``values``, their ``label`` and ``kind``.

    ``kind`` is ``"served_fraction"`` (classes of :data:`SERVED_CLASSES`) or ``"rtt_ms"``
    (a continuous scale).
    """

    kind: str
    label: str
    values: np.ndarray

    @property
    def note(self) -> str:
        if self.kind == "rtt_ms":
            return "every cell served all the time: colour = median RTT"
        return "colour = share of time served"


def map_quantity(served_fraction: np.ndarray, rtt_p50_ms: np.ndarray) -> MapQuantity:
    """The quantity that varies over the cells: share of time served, else the median RTT.

    Examples
    --------
    >>> import numpy as np
    >>> map_quantity(np.array([1.0, 0.5]), np.array([20.0, 30.0])).kind
    'served_fraction'
    >>> map_quantity(np.array([1.0, 1.0]), np.array([20.0, 30.0])).kind
    'rtt_ms'
    """
    frac = np.asarray(served_fraction, dtype=float)
    rtt = np.asarray(rtt_p50_ms, dtype=float)
    if len(frac) and np.all(frac >= 1.0) and np.isfinite(rtt).all():
        return MapQuantity("rtt_ms", "median RTT (ms)", rtt)
    return MapQuantity("served_fraction", "share of time served", frac)


# ----------------------------------------------------------------------------- building blocks
def _new_figure(width_in: float, height_in: float, dpi: int = 110) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG to ``path``, atomically (a temporary file renamed into place)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _hexagons(cells: np.ndarray) -> list[np.ndarray]:
    out = []
    for c in np.asarray(cells, dtype=np.uint64):
        ring = np.asarray(h3.cell_to_boundary(h3.int_to_str(int(c))))[:, ::-1]
        if np.ptp(ring[:, 0]) > 180:  # crosses the antimeridian: draw it on the cell centre's side
            ring[:, 0] = np.where(ring[:, 0] < 0, ring[:, 0] + 360, ring[:, 0])
        out.append(ring)
    return out


def _polygon_patch(geometry: Any, **kwargs: Any) -> Any:
    """A matplotlib patch for a (multi)polygon, holes included."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    verts: list[Any] = []
    codes: list[int] = []
    for part in shapely.get_parts(geometry):
        polygons = shapely.get_parts(part) if part.geom_type == "MultiPolygon" else [part]
        for poly in polygons:
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            for ring in (poly.exterior, *poly.interiors):
                xy = np.asarray(ring.coords)
                verts.extend(xy.tolist())
                codes.extend(
                    [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
                )
    if not verts:
        verts, codes = [[0.0, 0.0]], [MplPath.MOVETO]
    return PathPatch(MplPath(verts, codes), **kwargs)


def _outline(ax: Axes, geometry: Any, **kwargs: Any) -> None:
    edges = shapely.boundary(geometry) if shapely.get_dimensions(geometry) == 2 else geometry
    first = True
    for part in shapely.get_parts(edges):
        for line in shapely.get_parts(part):
            xy = shapely.get_coordinates(line)
            if len(xy):
                ax.plot(xy[:, 0], xy[:, 1], **kwargs)
                if first:
                    kwargs.pop("label", None)
                    first = False


def _frame(bounds: tuple[float, float, float, float], pad_deg: float) -> tuple[float, ...]:
    x0, y0, x1, y1 = bounds
    pad = max(pad_deg, 0.05 * max(x1 - x0, y1 - y0))
    return (x0 - pad, max(y0 - pad, -90.0), x1 + pad, min(y1 + pad, 90.0))


def _basemap(ax: Axes, frame: tuple[float, ...], worldview: Worldview | None) -> None:
    """Countries in view: filled land, outlines, and the names of those large enough."""
    from matplotlib import patheffects

    from skyfence.regions import world

    w = worldview if worldview is not None else world()
    box = shapely.box(*frame)
    ax.set_facecolor(SEA)
    frame_area = box.area
    for country in w.countries:
        geometry = country.geometry
        if not geometry.intersects(box):
            continue
        clipped = shapely.intersection(geometry, box.buffer(0.5))
        ax.add_patch(
            _polygon_patch(clipped, facecolor=LAND, edgecolor=BORDER, linewidth=0.5, zorder=0)
        )
        in_view = shapely.intersection(geometry, box)
        if in_view.is_empty or in_view.area < 0.03 * frame_area:
            continue
        largest = max(shapely.get_parts(in_view), key=lambda g: g.area)
        spot = shapely.point_on_surface(largest)
        ax.text(
            spot.x, spot.y, country.name, fontsize=7, color="#4d4d4d", ha="center",
            va="center", zorder=6, clip_on=True,
            path_effects=[patheffects.withStroke(linewidth=2, foreground="white")],
        )  # fmt: skip


def _finish(ax: Axes, frame: tuple[float, ...], title: str) -> None:
    x0, y0, x1, y1 = frame
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1.0 / max(np.cos(np.radians((y0 + y1) / 2)), 0.2))
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.25, linewidth=0.5)


def _cell_collection(cells: np.ndarray, quantity: MapQuantity) -> tuple[Any, dict[str, Any]]:
    from matplotlib import colormaps
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize

    values = np.asarray(quantity.values, dtype=float)
    if quantity.kind == "served_fraction":
        edges = [lo for lo, _ in SERVED_CLASSES] + [1.0 + 1e-9]
        colours = colormaps["cividis"](np.linspace(0.0, 1.0, len(SERVED_CLASSES)))
        cmap = ListedColormap(colours)
        norm: Any = BoundaryNorm(edges, cmap.N)
        middles = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
        bar = {"ticks": middles, "labels": [label for _, label in SERVED_CLASSES]}
    else:
        cmap = colormaps["viridis"]
        finite = values[np.isfinite(values)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1.0)
        bar = {}
    polys = PolyCollection(
        _hexagons(cells), array=values, cmap=cmap, norm=norm, edgecolors="white",
        linewidths=0.2, zorder=2,
    )  # fmt: skip
    return polys, bar


def _cells_frame(
    lat_lon: np.ndarray, region_geometry: Any, switched_off: Sequence[Region]
) -> tuple[tuple[float, ...], int]:
    """The map frame around the cells (their bulk: far-off islands of a country such as
    Norway's Bouvet Island would shrink the rest to a dot), and how many cells it leaves out.

    Switched-off areas are framed where they are near the cells.
    """
    parts: list[tuple[float, ...]] = []
    left_out = 0
    if len(lat_lon):
        q = (1.0, 99.0) if len(lat_lon) >= 50 else (0.0, 100.0)
        x0, x1 = (float(v) for v in np.percentile(lat_lon[:, 1], q))
        y0, y1 = (float(v) for v in np.percentile(lat_lon[:, 0], q))
        pad = 0.5
        left_out = int(
            np.count_nonzero(
                (lat_lon[:, 1] < x0 - pad) | (lat_lon[:, 1] > x1 + pad)
                | (lat_lon[:, 0] < y0 - pad) | (lat_lon[:, 0] > y1 + pad)
            )
        )  # fmt: skip
        parts.append((x0, y0, x1, y1))
    elif region_geometry is not None and not region_geometry.is_empty:
        parts.append(tuple(float(v) for v in region_geometry.bounds))
    if not parts:
        parts.append((-10.0, -10.0, 10.0, 10.0))
    near = shapely.box(*_frame(parts[0], 3.0))
    for off in switched_off:
        edge = shapely.intersection(off.geometry, near)  # a large exclusion: only its near part
        if not edge.is_empty:
            parts.append(tuple(float(v) for v in edge.bounds))
    arr = np.asarray(parts)
    box = (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())
    return _frame(box, 1.0), left_out


# ----------------------------------------------------------------------------- coverage maps
def coverage_map_figure(
    cells: np.ndarray,
    quantity: MapQuantity,
    *,
    title: str = "",
    region_geometry: Any = None,
    spill_geometry: Any = None,
    switched_off: Sequence[Region] = (),
    gateways: Sequence[dict[str, Any]] = (),
    planned: Sequence[dict[str, Any]] = (),
    worldview: Worldview | None = None,
) -> Figure:
    """A map of ``cells`` coloured by ``quantity`` over a basemap of the countries in view.

    The region's outline is black, switched-off areas are outlined in dashed blue, the
    spillover is hatched in vermillion, gateways used are orange triangles and planned ones
    purple stars; gateways outside the frame are named in a note under the map.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from skyfence.regions import world

    w = worldview if worldview is not None else world()
    fig = _new_figure(8.0, 7.0)
    ax = fig.add_subplot()
    lat_lon = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells]).reshape(-1, 2)
    frame, left_out = _cells_frame(lat_lon, region_geometry, switched_off)
    _basemap(ax, frame, w)
    polys, bar = _cell_collection(cells, quantity)
    ax.add_collection(polys)
    cb = fig.colorbar(polys, ax=ax, shrink=0.7, label=quantity.label)
    if bar:
        cb.set_ticks(bar["ticks"])
        cb.set_ticklabels(bar["labels"])
    handles: list[Any] = []
    if spill_geometry is not None and not spill_geometry.is_empty:
        ax.add_patch(_polygon_patch(
            spill_geometry, facecolor="none", edgecolor=OKABE_ITO["vermillion"], hatch="////",
            linewidth=0.6, zorder=3,
        ))  # fmt: skip
        handles.append(Patch(facecolor="none", edgecolor=OKABE_ITO["vermillion"], hatch="////",
                             label="spillover"))  # fmt: skip
    for off in switched_off:
        _outline(ax, off.geometry, color=OKABE_ITO["blue"], linewidth=1.2, linestyle="--",
                 zorder=4)  # fmt: skip
        handles.append(Line2D([], [], color=OKABE_ITO["blue"], linestyle="--",
                              label=f"switched off: {off.id}"))  # fmt: skip
    if region_geometry is not None:
        _outline(ax, region_geometry, color="black", linewidth=0.9, zorder=4)
        handles.append(Line2D([], [], color="black", label="region"))
    x0, y0, x1, y1 = frame
    outside: list[str] = []
    for rows, marker, colour, label in (
        (gateways, "^", OKABE_ITO["orange"], "gateway used"),
        (planned, "*", OKABE_ITO["purple"], "planned in-country gateway"),
    ):
        inside = [
            r for r in rows if x0 <= r["longitude_deg"] <= x1 and y0 <= r["latitude_deg"] <= y1
        ]
        outside += [f"{r['name']} ({r.get('country') or '?'})" for r in rows if r not in inside][:3]
        if inside:
            ax.scatter([r["longitude_deg"] for r in inside], [r["latitude_deg"] for r in inside],
                       marker=marker, color=colour, s=70, edgecolors="black", zorder=5)  # fmt: skip
            handles.append(Line2D([], [], marker=marker, color=colour, markeredgecolor="black",
                                  linestyle="none", markersize=8, label=label))  # fmt: skip
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    _finish(ax, frame, f"{title}\n{quantity.note}" if title else quantity.note)
    notes = []
    if left_out:
        notes.append(f"{left_out} far-off cell(s) not in view")
    if outside:
        notes.append("gateways outside the map: " + ", ".join(outside))
    if notes:
        fig.text(0.01, 0.035, "; ".join(notes), fontsize=7)
    fig.text(0.01, 0.01, f"boundaries: {w.worldview}", fontsize=6)
    fig.tight_layout(rect=(0.0, 0.05, 1.0, 1.0))
    return fig


def rtt_cdf_figure(series: dict[str, np.ndarray], title: str = "") -> Figure:
    """The empirical CDF of each RTT sample set (ms)."""
    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot()
    colours = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"]]
    for (label, samples), colour in zip(series.items(), colours * 4, strict=False):
        values = np.asarray(samples, dtype=float)
        s = np.sort(values[np.isfinite(values)])
        if len(s):
            ax.step(s, np.arange(1, len(s) + 1) / len(s), where="post", label=label, color=colour)
    ax.set_xlabel("round-trip time (ms)")
    ax.set_ylabel("fraction of served cell-steps")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- region maps
def region_map_figure(
    region: Region, cells: np.ndarray, resolution: int, worldview: Worldview | None = None
) -> Figure:
    """A region's outline and its H3 cell cover over a basemap of the countries in view."""
    from matplotlib.collections import PolyCollection

    from skyfence.regions import world

    w = worldview if worldview is not None else world()
    fig = _new_figure(8.0, 6.0, dpi=100)
    ax = fig.add_subplot()
    frame = _frame(region.bounds, 0.1)
    _basemap(ax, frame, w)
    ax.add_collection(PolyCollection(
        _hexagons(np.asarray(cells)[:200_000]), facecolor=OKABE_ITO["sky"],
        edgecolor=OKABE_ITO["blue"], linewidth=0.3, alpha=0.5, zorder=2,
    ))  # fmt: skip
    _outline(ax, region.geometry, color=OKABE_ITO["vermillion"], linewidth=0.9, zorder=4)
    _finish(ax, frame, f"{region.id}: {len(cells):,} H3 cells at resolution {resolution}")
    fig.text(0.01, 0.01, f"boundaries: {w.worldview}", fontsize=7)
    return fig
