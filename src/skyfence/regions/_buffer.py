"""Geodesic buffers of lon/lat geometry: ``buffer(UA, 100km)``.

Two methods, one answer: the area within ``distance_km`` of the geometry on the WGS84
ellipsoid.

* **Tiles** (buffers up to 1,000 km that stay clear of the poles): the geometry is cut into
  10° tiles; each piece is projected into an azimuthal-equidistant projection centred on the
  piece (pyproj, WGS84), buffered there in metres and projected back, and the parts are
  united. Within ~7° of the projection centre the AEQD scale error is below 0.4 %, so the
  result is within about 0.4 % (about 1 % at 1,000 km) of a true geodesic buffer, exact in
  distance for a point-like region. Tiles poleward of 75° use a local equirectangular frame.
* **Caps** (larger buffers, and the part of a smaller buffer within its distance of a pole the
  geometry does not hold): the union of the geometry and a
  geodesic circle of radius ``distance_km`` (pyproj ``Geod.fwd``, 96 points) around each
  vertex of its boundary, taken every tenth of the distance. A circle around a pole is
  closed along the pole's edge of the map; a circle that holds both poles is the globe
  minus the circle around its centre's antipode. A buffer that reaches every point of the
  Earth is exactly the globe (:data:`~skyfence.regions._geo.WORLD_BOX`), decided before
  anything is built (see :func:`covers_globe`).

The input is first simplified by ``distance_km / 50``; results are split at ±180 and
clipped to latitudes ±90. Distances above :data:`MAX_BUFFER_KM` (half the equatorial
circumference) are refused: every place on Earth is closer than that to any region.
"""

from __future__ import annotations

import math
from functools import lru_cache

import h3
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from skyfence.errors import InputError
from skyfence.regions._geo import (
    WORLD_BOX,
    _boundary_samples,
    _geod,
    _split_at_antimeridian,
    ring_polygon,
)
from skyfence.regions._geos import PREPARED

__all__ = ["buffer_km", "covers_globe", "MAX_BUFFER_KM"]

#: The largest buffer distance accepted (km): half the equatorial circumference, rounded up.
MAX_BUFFER_KM = 20_040.0
# Buffers larger than this (km), or that reach a pole, are built as a union of geodesic caps.
_CAPS_FROM_KM = 1_000.0
# Points on each cap's circle.
_CAP_POINTS = 96
# The tiles a geometry is cut into before it is buffered in a local projection (degrees).
_BUFFER_TILE_DEG = 10.0
# Above this latitude a tile is buffered in a local equirectangular frame instead of an
# azimuthal-equidistant one (an AEQD buffer around a tile that touches the pole folds over it).
_POLAR_LAT_DEG = 75.0
# Kilometres per degree of latitude, at least (the meridian's shortest degree, at the equator).
_KM_PER_DEG_LAT_MIN = 110.57
_MEAN_RADIUS_KM = 6371.0088


def buffer_km(geometry: BaseGeometry, distance_km: float) -> BaseGeometry:
    """Grow a lon/lat geometry by ``distance_km`` on the ground (see the module docstring).

    Raises :class:`~skyfence.errors.InputError` for a negative, non-finite or larger than
    :data:`MAX_BUFFER_KM` distance.

    Examples
    --------
    >>> from skyfence.regions._geo import geodesic_area_km2
    >>> dot = shapely.box(10.0, 0.0, 10.001, 0.001)
    >>> round(geodesic_area_km2(buffer_km(dot, MAX_BUFFER_KM)))  # the globe
    510065622
    >>> globe = geodesic_area_km2(shapely.box(-180, -90, 180, 90))
    >>> 0 < globe - geodesic_area_km2(buffer_km(dot, 20_000.0)) < 10_000  # all but the antipode
    True
    """
    if (
        not isinstance(distance_km, int | float)
        or not math.isfinite(distance_km)
        or distance_km < 0
    ):
        raise InputError(
            f"buffer distance must be a finite number of km >= 0, got {distance_km!r}; "
            "write e.g. buffer(TW, 100km)"
        )
    if distance_km > MAX_BUFFER_KM:
        raise InputError(
            f"buffer distance {distance_km:,.0f} km is more than {MAX_BUFFER_KM:,.0f} km, half "
            "the Earth's circumference: every place is closer than that to any region, so "
            f"a buffer of {MAX_BUFFER_KM:,.0f} km is already the whole globe"
        )
    if geometry.is_empty or distance_km == 0:
        return geometry
    if distance_km <= _CAPS_FROM_KM and not _reaches_pole(geometry, distance_km):
        return _buffer_tiles(geometry, distance_km)
    if covers_globe(geometry, distance_km):
        return WORLD_BOX
    if distance_km > _CAPS_FROM_KM:
        return _buffer_caps(geometry, distance_km)
    # a small buffer that reaches a pole: tiles away from the pole, caps near it
    reach = 90.0 - _pole_margin_deg(distance_km) - 1e-6
    band = shapely.box(-180.0, -reach, 180.0, reach)
    far = shapely.intersection(geometry, band)
    near = shapely.difference(geometry, band)
    parts = [] if far.is_empty else [_buffer_tiles(far, distance_km)]
    if not near.is_empty:
        parts.append(_buffer_caps(near, distance_km))
    grown = shapely.union_all(parts)
    return shapely.make_valid(shapely.intersection(grown, WORLD_BOX))


def _pole_margin_deg(distance_km: float) -> float:
    return distance_km / _KM_PER_DEG_LAT_MIN * 1.01 + 0.01


def _reaches_pole(geometry: BaseGeometry, distance_km: float) -> bool:
    """Whether the buffer reaches a pole the geometry does not already hold (a geometry that
    holds a pole, such as Antarctica, only grows away from it)."""
    _, miny, _, maxy = geometry.bounds
    margin_deg = _pole_margin_deg(distance_km)
    for pole, near in ((90.0, maxy + margin_deg >= 90.0), (-90.0, miny - margin_deg <= -90.0)):
        if near and not _holds_pole(geometry, pole):
            return True
    return False


def _holds_pole(geometry: BaseGeometry, pole: float) -> bool:
    """Whether the geometry covers the map's pole edge (Natural Earth draws Antarctica down to
    -89.99999999999994), tested at nine longitudes a micro-degree from the pole."""
    lons = np.linspace(-179.9, 179.9, 9)
    lat = np.full(9, pole - math.copysign(1e-6, pole))
    with PREPARED:  # a region's geometry, possibly prepared and shared
        return bool(np.all(shapely.intersects_xy(geometry, lons, lat)))


def _buffer_tiles(geometry: BaseGeometry, distance_km: float) -> BaseGeometry:
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


# ----------------------------------------------------------------------------- caps
def _vertices(geometry: BaseGeometry, distance_km: float) -> np.ndarray:
    """(lon, lat) of the simplified boundary (or lines, points), a tenth of the distance apart."""
    tol_deg = distance_km / 50.0 / 111.0
    simple = shapely.simplify(geometry, tol_deg, preserve_topology=True)
    if simple.is_empty:
        simple = geometry
    step_deg = min(max(distance_km / 10.0 / 111.0, 0.01), 5.0)
    xy = _boundary_samples(simple, step_deg)
    if len(xy) == 0:
        xy = shapely.get_coordinates(geometry)
    return np.unique(np.round(xy, 9), axis=0)


def _buffer_caps(geometry: BaseGeometry, distance_km: float) -> BaseGeometry:
    xy = _vertices(geometry, distance_km)
    parts: list[BaseGeometry] = [geometry] if shapely.get_dimensions(geometry) == 2 else []
    for lon, lat in xy.tolist():
        parts.append(_cap(lon, lat, distance_km))
    grown = shapely.union_all(parts)
    return shapely.make_valid(shapely.intersection(grown, WORLD_BOX))


def _cap(lon: float, lat: float, distance_km: float) -> BaseGeometry:
    """The points within ``distance_km`` of (lon, lat), as a lon/lat (Multi)Polygon."""
    geod = _geod()
    distance_m = distance_km * 1000.0
    _, _, to_north = geod.inv(lon, lat, lon, 90.0)
    _, _, to_south = geod.inv(lon, lat, lon, -90.0)
    north, south = to_north < distance_m, to_south < distance_m
    if north and south:
        anti_lon, anti_lat = (lon + 360.0) % 360.0 - 180.0, -lat
        _, _, to_anti = geod.inv(lon, lat, anti_lon, anti_lat)
        rest_km = (to_anti - distance_m) / 1000.0
        if rest_km <= 0:
            return WORLD_BOX
        return shapely.difference(WORLD_BOX, _cap(anti_lon, anti_lat, rest_km))
    az = np.linspace(0.0, 360.0, _CAP_POINTS, endpoint=False)
    lons, lats, _ = geod.fwd(
        np.full(_CAP_POINTS, lon), np.full(_CAP_POINTS, lat), az, np.full(_CAP_POINTS, distance_m)
    )
    pole = 90.0 if north else -90.0 if south else None
    return ring_polygon(np.asarray(lons), np.asarray(lats), pole=pole)


@lru_cache(maxsize=1)
def _probe_cells() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres (unit vectors, lon, lat) of the H3 resolution-2 cells and each cell's radius
    (km from its centre to its farthest vertex): every point of the Earth is within its
    cell's radius of its cell's centre."""
    cells = [c for base in h3.get_res0_cells() for c in h3.cell_to_children(base, 2)]
    centre = np.array([h3.cell_to_latlng(c) for c in cells])
    radius = np.zeros(len(cells))
    for i, c in enumerate(cells):
        ring = np.array(h3.cell_to_boundary(c))
        radius[i] = _great_circle_km(centre[i, 0], centre[i, 1], ring[:, 0], ring[:, 1]).max()
    return centre[:, 0], centre[:, 1], radius


def _great_circle_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(lon2 - lon1)
    c = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
    return np.asarray(_MEAN_RADIUS_KM * np.arccos(np.clip(c, -1.0, 1.0)))


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.column_stack((np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)))


def covers_globe(geometry: BaseGeometry, distance_km: float) -> bool:
    """Whether every point of the Earth is within ``distance_km`` of ``geometry`` (surely).

    An upper bound of the farthest any point can be from the geometry: for each H3
    resolution-2 cell, the distance from its centre to the geometry (0 inside it; else to the
    nearest boundary vertex, taken every 50 km after simplifying by 10 km) plus the cell's
    radius, the simplification and half the vertex spacing. ``True`` only when ``distance_km`` is at least
    that bound (on the mean sphere, with 0.5 % to spare for the ellipsoid).
    """
    if geometry.is_empty:
        return False
    lat, lon, radius = _probe_cells()
    with PREPARED:  # a region's geometry, possibly prepared and shared
        inside = (
            shapely.intersects_xy(geometry, lon, lat)
            if shapely.get_dimensions(geometry) == 2
            else np.zeros(lat.shape, dtype=bool)
        )
    tol_km, step_km = 10.0, 50.0
    simple = shapely.simplify(geometry, tol_km / 111.0, preserve_topology=True)
    xy = _boundary_samples(simple if not simple.is_empty else geometry, step_km / 111.0)
    if len(xy) == 0:
        xy = shapely.get_coordinates(geometry)
    verts = _unit(xy[:, 1], xy[:, 0])
    probes = _unit(lat, lon)
    best = np.full(len(lat), -1.0)
    for start in range(0, len(verts), 2048):
        dots = probes @ verts[start : start + 2048].T
        np.maximum(best, dots.max(axis=1), out=best)
    far_km = _MEAN_RADIUS_KM * np.arccos(np.clip(best, -1.0, 1.0))
    far_km[inside] = 0.0
    bound = float((far_km + radius).max()) + tol_km + step_km / 2.0
    return distance_km >= bound * 1.005
