"""The files of a coverage sweep: GeoParquet per window (hour), the day per cell, a map.

GeoParquet here is GeoParquet 1.0.0: the cell hexagons as WKB in a ``geometry`` column, the
``geo`` key of the file metadata naming it (``encoding: WKB``, ``geometry_types:
["Polygon"]``, no ``crs``, which means OGC:CRS84 — longitude, latitude on WGS84). Every file
is written whole or not at all (:mod:`skyfence.files`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import h3
import numpy as np

from skyfence.files import atomic_path
from skyfence.scale.sweep import DayTotals, SweepPlan

__all__ = ["GEO_METADATA", "cell_wkb", "write_geoparquet", "write_window", "write_day", "write_map"]

GEO_METADATA = {
    "version": "1.0.0",
    "primary_column": "geometry",
    "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Polygon"]}},
}

#: Above this many cells the map draws cell centres instead of hexagons.
MAP_HEXAGON_LIMIT = 20_000


def cell_wkb(cells: np.ndarray) -> list[bytes]:
    """WKB hexagons (longitude, latitude) of H3 cells."""
    import shapely

    rings = [[(lon, lat) for lat, lon in h3.cell_to_boundary(h3.int_to_str(int(c)))] for c in cells]
    polys = np.asarray([shapely.Polygon(r) for r in rings], dtype=object)
    return list(shapely.to_wkb(polys)) if len(polys) else []


def write_geoparquet(path: Path, columns: dict[str, Any], wkb: list[bytes]) -> Path:
    """Write ``columns`` plus ``geometry`` (WKB) as GeoParquet 1.0.0, atomically."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    table = pa.table({**columns, "geometry": pa.array(wkb, type=pa.binary())})
    bounds = _bounds(columns)
    geo = json.loads(json.dumps(GEO_METADATA))
    if bounds is not None:
        geo["columns"]["geometry"]["bbox"] = bounds
    table = table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})
    with atomic_path(path, make_parents=True) as tmp:
        pq.write_table(table, tmp)
    return path


def _bounds(columns: dict[str, Any]) -> list[float] | None:
    lat, lon = columns.get("latitude_deg"), columns.get("longitude_deg")
    if lat is None or lon is None or len(lat) == 0:
        return None
    # hexagons reach past their centres; H3 res-0 cells are < 12 degrees across
    return [-180.0, -90.0, 180.0, 90.0] if len(lat) > 1000 else [
        float(np.min(lon)) - 12, float(np.min(lat)) - 12, float(np.max(lon)) + 12,
        float(np.max(lat)) + 12,
    ]  # fmt: skip


def _cell_ids(cells: np.ndarray) -> list[str]:
    return [h3.int_to_str(int(c)) for c in cells]


def write_window(
    path: Path,
    w: int,
    plan: SweepPlan,
    shards: list[dict[str, np.ndarray]],
    *,
    cells: np.ndarray,
    latitude_deg: np.ndarray,
    longitude_deg: np.ndarray,
    times: np.ndarray,
    wkb: list[bytes],
) -> Path:
    """One window's GeoParquet: a row per cell with that window's statistics."""
    t0, t1 = plan.window_bounds(w)
    steps = t1 - t0
    cat = {k: np.concatenate([s[k] for s in shards]) for k in shards[0]} if shards else {}
    cols = {
        "cell": _cell_ids(cells),
        "latitude_deg": latitude_deg,
        "longitude_deg": longitude_deg,
        "window_start": np.repeat(times[t0], len(cells)).astype("datetime64[ms]"),
        "steps": np.full(len(cells), steps, np.int32),
        "served_fraction": cat["served_steps"] / steps,
        "mean_visible": cat["visible_sum"] / steps,
        "rtt_p50_ms": cat["rtt_p50_ms"],
        "rtt_p95_ms": cat["rtt_p95_ms"],
        "handovers": cat["handovers"],
    }
    return write_geoparquet(path, cols, wkb)


def write_day(
    path: Path,
    day: DayTotals,
    *,
    cells: np.ndarray,
    latitude_deg: np.ndarray,
    longitude_deg: np.ndarray,
    wkb: list[bytes],
) -> Path:
    """The whole window per cell: served fraction, satellites in view, mean RTT, handovers."""
    cols = {
        "cell": _cell_ids(cells),
        "latitude_deg": latitude_deg,
        "longitude_deg": longitude_deg,
        "served_fraction": day.served_fraction,
        "mean_visible": day.mean_visible,
        "rtt_mean_ms": day.rtt_mean_ms,
        "handovers": day.handovers,
        "handovers_per_hour": day.handovers_per_hour,
    }
    return write_geoparquet(path, cols, wkb)


def write_map(
    path: Path,
    cells: np.ndarray,
    latitude_deg: np.ndarray,
    longitude_deg: np.ndarray,
    served_fraction: np.ndarray,
    rtt_ms: np.ndarray,
    *,
    title: str,
    worldview: Any = None,
) -> Path:
    """A PNG map per cell (hexagons, or centres for many cells) of the share of time served,
    or of the mean RTT (``rtt_ms``) where every cell is served all the time."""
    from skyfence.analysis.maps import coverage_map_figure, map_quantity, save_png

    quantity = map_quantity(served_fraction, rtt_ms)
    if quantity.kind == "rtt_ms":  # the sweep maps the mean RTT over the window
        quantity = dataclasses.replace(quantity, label="mean RTT over the window (ms)")
    if len(cells) <= MAP_HEXAGON_LIMIT:
        fig = coverage_map_figure(cells, quantity, title=title, worldview=worldview)
        return save_png(fig, path)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    values = np.asarray(quantity.values, dtype=float)
    limits = (0.0, 1.0) if quantity.kind == "served_fraction" else (
        float(np.nanpercentile(values, 1)), float(np.nanpercentile(values, 99)))  # fmt: skip
    points = ax.scatter(
        longitude_deg, latitude_deg, c=values, s=1.0, marker="s", linewidths=0,
        cmap="viridis", vmin=limits[0], vmax=limits[1], rasterized=True,
    )  # fmt: skip
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(title)
    fig.colorbar(points, ax=ax, shrink=0.7, label=quantity.label)
    return save_png(fig, path)
