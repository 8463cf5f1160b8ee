"""Geometry helpers of the regions package: geodesic area, geodesic buffers, H3 covers.

Every geometry here is in longitude/latitude degrees (x = longitude, y = latitude), as
Natural Earth and GeoJSON store it, with longitudes in [-180, 180]. Geometry that crosses
the antimeridian is kept split at ±180 (as Natural Earth does): a region is a union of parts
on either side, never one polygon wrapping around the world.
"""

from __future__ import annotations

import math
from functools import lru_cache

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.errors import InputError

__all__ = [
    "geodesic_area_km2",
    "buffer_km",
    "cover_cells",
    "center_cells",
    "WORLD_BOX",
]

WORLD_BOX = shapely.box(-180.0, -90.0, 180.0, 90.0)

# The tiles a geometry is cut into before it is buffered in a local projection (degrees).
_BUFFER_TILE_DEG = 10.0
# Above this latitude a tile is buffered in a local equirectangular frame instead of an
# azimuthal-equidistant one (an AEQD buffer around a tile that touches the pole folds over it).
_POLAR_LAT_DEG = 75.0


@lru_cache(maxsize=1)
def _geod():  # type: ignore[no-untyped-def]
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Area of a lon/lat geometry on the WGS84 ellipsoid, in km² (0 for points and lines)."""
    if geometry is None or geometry.is_empty:
        return 0.0
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        return 0.0
    parts = shapely.get_parts(geometry)
    total = 0.0
    for part in parts:
        if part.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        area_m2, _ = _geod().geometry_area_perimeter(shapely.geometry.polygon.orient(part, 1.0))
        total += abs(area_m2)
    return total / 1e6


def _tile_boxes(bounds: tuple[float, float, float, float], step: float) -> list[tuple[float, ...]]:
    minx, miny, maxx, maxy = bounds
    x0 = math.floor((minx + 180.0) / step) * step - 180.0
    y0 = math.floor((miny + 90.0) / step) * step - 90.0
    boxes = []
    y = y0
    while y < maxy or (y == y0 and y <= maxy):
        x = x0
        while x < maxx or (x == x0 and x <= maxx):
            boxes.append((x, y, x + step, y + step))
            x += step
        y += step
    return boxes


def _split_at_antimeridian(geometry: BaseGeometry) -> BaseGeometry:
    """Bring a geometry whose longitudes run past ±180 back into [-180, 180], split."""
    parts = [shapely.intersection(geometry, WORLD_BOX)]
    for shift in (360.0, -360.0):
        shifted = shapely.affinity.translate(WORLD_BOX, xoff=shift)
        piece = shapely.intersection(geometry, shifted)
        if not piece.is_empty:
            parts.append(shapely.affinity.translate(piece, xoff=-shift))
    return shapely.union_all(parts)


def _buffer_tile(piece: BaseGeometry, lon0: float, lat0: float, distance_m: float) -> BaseGeometry:
    tolerance_m = distance_m / 50.0
    if abs(lat0) >= _POLAR_LAT_DEG:
        # local equirectangular frame in metres, scaled at the tile's centre latitude
        kx = 111_320.0 * max(math.cos(math.radians(lat0)), 0.05)
        ky = 110_574.0

        def fwd(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(((xy[:, 0] - lon0) * kx, (xy[:, 1] - lat0) * ky))

        def inv(xy: np.ndarray) -> np.ndarray:
            return np.column_stack((xy[:, 0] / kx + lon0, xy[:, 1] / ky + lat0))

    else:
        from pyproj import Proj

        aeqd = Proj(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs")

        def fwd(xy: np.ndarray) -> np.ndarray:
            x, y = aeqd(xy[:, 0], xy[:, 1])
            return np.column_stack((x, y))

        def inv(xy: np.ndarray) -> np.ndarray:
            lon, lat = aeqd(xy[:, 0], xy[:, 1], inverse=True)
            # unwrap around the tile centre so a buffer across ±180 stays continuous
            lon = lon0 + ((np.asarray(lon) - lon0 + 180.0) % 360.0 - 180.0)
            return np.column_stack((lon, lat))

    local = shapely.transform(piece, fwd)
    local = shapely.simplify(local, tolerance_m, preserve_topology=True)
    grown = shapely.buffer(local, distance_m, quad_segs=8)
    back = shapely.transform(grown, inv)
    return shapely.make_valid(back)


def buffer_km(geometry: BaseGeometry, distance_km: float) -> BaseGeometry:
    """Grow a lon/lat geometry by ``distance_km`` on the ground.

    The geometry is cut into 10° tiles; each piece is projected into an azimuthal-equidistant
    projection centred on the piece's bounding box (pyproj, WGS84), buffered there in metres
    and projected back, and the parts are united. Within ~7° of the projection centre the
    AEQD scale error is below 0.4 %, so the result is within about 0.4 % of a true geodesic
    buffer (exact in distance for a point-like region). Tiles
    poleward of 75° use a local equirectangular frame (a few % off near the pole). The
    input is first simplified by ``distance_km / 50`` in the local frame. The result is split
    at ±180 and clipped to latitudes ±90.
    """
    if not math.isfinite(distance_km) or distance_km < 0:
        raise InputError(
            f"buffer distance must be a finite number of km >= 0, got {distance_km!r}; "
            "write e.g. buffer(TW, 100km)"
        )
    if geometry.is_empty or distance_km == 0:
        return geometry
    distance_m = distance_km * 1000.0
    parts = []
    for box in _tile_boxes(geometry.bounds, _BUFFER_TILE_DEG):
        piece = shapely.intersection(geometry, shapely.box(*box))
        if piece.is_empty:
            continue
        # centre the projection on the piece (AEQD is exact in distance from its centre)
        pb = piece.bounds
        lon0 = (pb[0] + pb[2]) / 2.0
        lat0 = max(min((pb[1] + pb[3]) / 2.0, 89.0), -89.0)
        parts.append(_buffer_tile(piece, lon0, lat0, distance_m))
    grown = shapely.union_all(parts)
    return _split_at_antimeridian(grown)


def _polygon_parts(geometry: BaseGeometry) -> list[shapely.Polygon]:
    return [g for g in shapely.get_parts(geometry) if g.geom_type == "Polygon" and not g.is_empty]


def _to_h3_poly(polygon: shapely.Polygon) -> h3.LatLngPoly:
    outer = [(y, x) for x, y in polygon.exterior.coords[:-1]]
    holes = [[(y, x) for x, y in ring.coords[:-1]] for ring in polygon.interiors]
    return h3.LatLngPoly(outer, *holes)


def center_cells(geometry: BaseGeometry, resolution: int) -> np.ndarray:
    """H3 cells (uint64) whose centre lies inside the geometry (boundary included).

    H3's polygon fill is slow on detailed coastlines, so it runs on a simplified superset
    (Douglas-Peucker at half a cell edge, grown by the same tolerance), and every candidate
    centre is then tested exactly against the original geometry with shapely. Each polygon
    handed to H3 is cut into the western and eastern hemisphere first, so none spans 180° of
    longitude or more (H3 would read such a polygon as crossing the antimeridian and fill the
    other side of the world).
    """
    if geometry.is_empty or shapely.get_dimensions(geometry) < 2:
        return np.zeros(0, dtype=np.uint64)
    tol = h3.average_hexagon_edge_length(resolution, unit="km") / 111.0 / 2.0
    coarse = shapely.buffer(
        shapely.simplify(geometry, tol, preserve_topology=True), tol, quad_segs=2
    )
    coarse = shapely.intersection(coarse, WORLD_BOX)
    found: set[str] = set()
    for half in (shapely.box(-180.0, -90.0, 0.0, 90.0), shapely.box(0.0, -90.0, 180.0, 90.0)):
        clipped = shapely.intersection(coarse, half)
        for polygon in _polygon_parts(clipped):
            if polygon.area == 0:
                continue
            found.update(
                h3.h3shape_to_cells_experimental(_to_h3_poly(polygon), resolution, "center")
            )
    if not found:
        return np.zeros(0, dtype=np.uint64)
    cells = sorted(found)
    latlng = np.array([h3.cell_to_latlng(c) for c in cells], dtype=float)
    shapely.prepare(geometry)
    inside = shapely.intersects_xy(geometry, latlng[:, 1], latlng[:, 0])
    return np.array(
        sorted(h3.str_to_int(c) for c, ok in zip(cells, inside, strict=True) if ok), dtype=np.uint64
    )


def _boundary_samples(geometry: BaseGeometry, step_deg: float) -> np.ndarray:
    """Points (lon, lat) along every edge of the geometry, at most ``step_deg`` apart."""
    if geometry.geom_type in ("Point", "MultiPoint"):
        return shapely.get_coordinates(geometry)
    edges = shapely.boundary(geometry) if shapely.get_dimensions(geometry) == 2 else geometry
    if geometry.geom_type == "GeometryCollection":
        edges = shapely.union_all(
            [
                shapely.boundary(g) if shapely.get_dimensions(g) == 2 else g
                for g in shapely.get_parts(geometry)
            ]
        )
    dense = shapely.segmentize(edges, step_deg)
    return shapely.get_coordinates(dense)


def cover_cells(geometry: BaseGeometry, resolution: int) -> np.ndarray:
    """H3 cells (uint64, sorted) covering a geometry at ``resolution``.

    The cover is the cells whose centre lies inside, plus every cell that touches the
    geometry's boundary: the boundary is sampled at a fifth of the cell edge length, and the
    cells of the samples and their immediate neighbours are kept when their (slightly
    enlarged) hexagon intersects the geometry. So every point of the geometry lies in a cell
    of the cover.
    """
    if not 0 <= resolution <= 15:
        raise InputError(f"H3 resolution must be an integer 0..15, got {resolution!r}")
    if geometry.is_empty:
        return np.zeros(0, dtype=np.uint64)
    inside = (
        center_cells(geometry, resolution)
        if shapely.get_dimensions(geometry) == 2
        else np.zeros(0, np.uint64)
    )
    edge_km = h3.average_hexagon_edge_length(resolution, unit="km")
    step_deg = edge_km / 111.0 / 5.0
    samples = _boundary_samples(geometry, step_deg)
    border: set[str] = set()
    for lon, lat in samples.tolist():
        border.add(h3.latlng_to_cell(lat, lon, resolution))
    ring: set[str] = set()
    for cell in border:
        ring.update(h3.grid_disk(cell, 1))
    ring.difference_update(border)
    touching = np.array(sorted(h3.str_to_int(c) for c in border), dtype=np.uint64)
    candidates = np.array(sorted(h3.str_to_int(c) for c in ring), dtype=np.uint64)
    candidates = np.setdiff1d(candidates, inside)
    if candidates.size:
        # a neighbour whose centre is outside belongs to the cover iff the boundary crosses
        # it: test its (slightly enlarged) hexagon against the boundary's short segments
        hexes = np.array([_cell_polygon(int(c)) for c in candidates], dtype=object)
        grown = shapely.buffer(hexes, edge_km / 111.0 * 0.05, quad_segs=1)
        tree = shapely.STRtree(_segments(geometry, step_deg))
        hit = np.unique(tree.query(grown, predicate="intersects")[0])
        candidates = candidates[hit]
    return np.union1d(np.union1d(inside, touching), candidates).astype(np.uint64)


def _segments(geometry: BaseGeometry, step_deg: float) -> np.ndarray:
    """The boundary (or the lines) of a geometry as short 2-point line segments."""
    if shapely.get_dimensions(geometry) == 2:
        lines = shapely.boundary(geometry)
    else:
        lines = geometry
    lines = shapely.segmentize(lines, step_deg)
    coords, part = shapely.get_coordinates(shapely.get_parts(lines), return_index=True)
    same = part[1:] == part[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    return shapely.linestrings(np.stack([a, b], axis=1))


def _cell_polygon(cell: int) -> BaseGeometry:
    """The hexagon of an H3 cell as a lon/lat polygon, split at ±180 when it crosses it."""
    boundary = h3.cell_to_boundary(h3.int_to_str(cell))
    lats = np.array([p[0] for p in boundary])
    lons = np.array([p[1] for p in boundary])
    if lons.max() - lons.min() > 180.0:
        lons = np.where(lons < 0, lons + 360.0, lons)
        return _split_at_antimeridian(shapely.Polygon(np.column_stack((lons, lats))))
    return shapely.Polygon(np.column_stack((lons, lats)))


def cells_geometry(cells: np.ndarray) -> BaseGeometry:
    """The union of the hexagons of H3 cells (uint64), as lon/lat (Multi)Polygon."""
    if len(cells) == 0:
        return shapely.MultiPolygon()
    return shapely.union_all([_cell_polygon(int(c)) for c in cells])
