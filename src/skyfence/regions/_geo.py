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
from skyfence.regions._geos import PREPARED

__all__ = [
    "geodesic_area_km2",
    "ring_polygon",
    "cover_cells",
    "center_cells",
    "WORLD_BOX",
]

WORLD_BOX = shapely.box(-180.0, -90.0, 180.0, 90.0)

# Longest edge (degrees) when measuring areas: longer edges are cut first.
_AREA_STEP_DEG = 1.0
_QUARTERS = [shapely.box(x, -90.0, x + 90.0, 90.0) for x in (-180.0, -90.0, 0.0, 90.0)]


@lru_cache(maxsize=1)
def _geod():  # type: ignore[no-untyped-def]
    from pyproj import Geod

    return Geod(ellps="WGS84")


def geodesic_area_km2(geometry: BaseGeometry) -> float:
    """Area of a lon/lat geometry on the WGS84 ellipsoid, in km² (0 for points and lines).

    A region's edges are straight in longitude/latitude (that is how points are tested
    against it), while pyproj measures polygons with geodesic edges; edges are therefore
    first cut to at most 1° (:data:`_AREA_STEP_DEG`), so an edge along a parallel (a box,
    a cap around a pole, the whole globe) has the area it encloses on the map.

    Examples
    --------
    >>> round(geodesic_area_km2(WORLD_BOX))  # the WGS84 ellipsoid's surface
    510065622
    """
    if geometry is None or geometry.is_empty:
        return 0.0
    if geometry.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        return 0.0
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    pieces: list[BaseGeometry] = []
    for part in parts:
        x0, _, x1, _ = part.bounds
        if x1 - x0 <= 180.0:
            pieces.append(part)
            continue
        # a ring around the whole axis is ambiguous as a geodesic polygon: cut it in quarters
        for quarter in _QUARTERS:
            pieces.extend(shapely.get_parts(shapely.intersection(part, quarter)))
    polygons = [p for p in pieces if p.geom_type == "Polygon" and not p.is_empty]
    if not polygons:
        return 0.0
    dense = shapely.segmentize(np.asarray(polygons, dtype=object), _AREA_STEP_DEG)
    rings, kind = [], []  # exteriors add, holes subtract
    for polygon in dense:
        rings.append(polygon.exterior)
        kind.append(1.0)
        for hole in polygon.interiors:
            rings.append(hole)
            kind.append(-1.0)
    xy, which = shapely.get_coordinates(np.asarray(rings, dtype=object), return_index=True)
    bounds = np.searchsorted(which, np.arange(len(rings) + 1))
    geod = _geod()
    total = 0.0
    for i, sign in enumerate(kind):
        ring = xy[bounds[i] : bounds[i + 1]]
        area_m2, _ = geod.polygon_area_perimeter(ring[:, 0], ring[:, 1])
        total += sign * abs(area_m2)
    return total / 1e6


def _split_at_antimeridian(geometry: BaseGeometry) -> BaseGeometry:
    """Bring a geometry whose longitudes run past ±180 (up to ±540) back into [-180, 180],
    split."""
    parts = [shapely.intersection(geometry, WORLD_BOX)]
    for shift in (360.0, -360.0):
        shifted = shapely.affinity.translate(WORLD_BOX, xoff=shift)
        piece = shapely.intersection(geometry, shifted)
        if not piece.is_empty:
            parts.append(shapely.affinity.translate(piece, xoff=-shift))
    return shapely.union_all(parts)


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
    with PREPARED:  # the geometry may be a region's, shared with other threads
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
    """The hexagon of an H3 cell as a lon/lat polygon, split at ±180 when it crosses it
    (the two cells at each resolution that hold a pole reach it)."""
    boundary = h3.cell_to_boundary(h3.int_to_str(cell))
    lats = np.array([p[0] for p in boundary])
    lons = np.array([p[1] for p in boundary])
    if h3.get_resolution(h3.int_to_str(cell)) <= 3:  # long edges: follow the great circles
        lons, lats = _geodesic_ring(lons, lats, step_deg=0.5)
    if lons.max() - lons.min() <= 180.0:
        return shapely.Polygon(np.column_stack((lons, lats)))
    lat0, lon0 = h3.cell_to_latlng(h3.int_to_str(cell))
    return ring_polygon(lons, lats, pole=90.0 if lat0 > 0 else -90.0)


def _geodesic_ring(
    lons: np.ndarray, lats: np.ndarray, step_deg: float
) -> tuple[np.ndarray, np.ndarray]:
    """The ring's edges as geodesics, with a point at least every ``step_deg``."""
    out_lon: list[float] = []
    out_lat: list[float] = []
    n = len(lons)
    for i in range(n):
        lo1, la1, lo2, la2 = lons[i], lats[i], lons[(i + 1) % n], lats[(i + 1) % n]
        out_lon.append(float(lo1))
        out_lat.append(float(la1))
        span = max(abs(la2 - la1), abs((lo2 - lo1 + 180.0) % 360.0 - 180.0))
        k = int(math.ceil(span / step_deg)) - 1
        if k > 0:
            for lo, la in _geod().npts(lo1, la1, lo2, la2, k):
                out_lon.append(lo)
                out_lat.append(la)
    return np.array(out_lon), np.array(out_lat)


def ring_polygon(lons: np.ndarray, lats: np.ndarray, pole: float | None = None) -> BaseGeometry:
    """The lon/lat (Multi)Polygon enclosed by a closed ring of points on the sphere.

    The ring's longitudes are unwrapped along it. A ring that does not wind around the
    Earth's axis encloses the side that does not hold a pole; it may cross ±180 and is split
    there. A ring that winds once around the axis (its longitudes advance by 360°) separates
    the poles: the polygon is the side holding ``pole`` (90 or -90; by default the pole on
    the side of the ring's mean latitude), closed along that pole's edge of the map.

    Examples
    --------
    >>> ring = ring_polygon(np.arange(-180.0, 180.0, 10.0), np.full(36, 80.0))
    >>> ring.bounds
    (-180.0, 80.0, 180.0, 90.0)
    """
    lons = np.asarray(lons, dtype=float)
    lats = np.asarray(lats, dtype=float)
    steps = (np.diff(np.r_[lons, lons[:1]]) + 180.0) % 360.0 - 180.0
    unwrapped = lons[0] + np.r_[0.0, np.cumsum(steps[:-1])]
    winding = float(steps.sum())
    if abs(winding) < 180.0:
        shift = -360.0 * np.floor((unwrapped.min() + 180.0) / 360.0)  # start within the map
        poly = shapely.Polygon(np.column_stack((unwrapped + shift, lats)))
        return _split_at_antimeridian(shapely.make_valid(poly))
    if pole is None:
        pole = 90.0 if lats.mean() >= 0 else -90.0
    end = unwrapped[0] + winding  # the first point again, one turn later
    xs = np.r_[unwrapped, end, end, unwrapped[0]]
    ys = np.r_[lats, lats[0], pole, pole]
    shift = -360.0 * np.floor((min(xs.min(), xs.max() - 360.0) + 180.0) / 360.0)
    poly = shapely.make_valid(shapely.Polygon(np.column_stack((xs + shift, ys))))
    return _split_at_antimeridian(poly)


def cells_geometry(cells: np.ndarray) -> BaseGeometry:
    """The union of the hexagons of H3 cells (uint64), as lon/lat (Multi)Polygon."""
    if len(cells) == 0:
        return shapely.MultiPolygon()
    return shapely.union_all([_cell_polygon(int(c)) for c in cells])
