"""Distance to land for the maritime rule: how far a point at sea is from the nearest coast.

"Land" is the countries of the worldview. Their boundaries are densified to
``step_deg`` (0.02° ≈ 2.2 km) and put in a k-d tree of unit vectors; the distance of a point
is the great-circle distance to the nearest boundary vertex (good to about half the step).
Large calls first settle most points with a 0.5° raster whose cells are surely beyond (or
surely within) the distance by the triangle inequality; the answer is the same as querying
every point (tested).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km
from skyfence.regions.cache import cache_key, load_arrays, save_arrays

__all__ = ["CoastDistance"]

_NCELL = 180 * 360
_KM_PER_DEG_MIN = 110.57  # km per degree of latitude, at least (on the mean sphere: 111.19)
_GRID_MAX_KM = 2_000.0  # larger limits use the k-d tree


def _cell_of(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """1° cell index (row from -90°, column from -180°) of points."""
    row = np.clip(np.floor(lat + 90.0), 0, 179).astype(np.int64)
    col = np.clip(np.floor(lon + 180.0), 0, 359).astype(np.int64)
    return row * 360 + col


def unit_xyz(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (N, 3) of points on the sphere."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    c = np.cos(lat)
    return np.column_stack([c * np.cos(lon), c * np.sin(lon), np.sin(lat)])


class CoastDistance:
    """Great-circle distance from points to the boundary of a set of land geometries.

    Parameters
    ----------
    geometries : sequence of shapely geometries
        The land (lon/lat degrees); their boundaries are the coast.
    step_deg : float
        Spacing to which the boundaries are densified.
    """

    #: Raster cell size (degrees) and the call size from which the raster is used.
    raster_step_deg: float = 0.5
    raster_min_rows: int = 20_000

    #: Calls with at most this many points scan the vertex grid instead of the k-d tree.
    grid_max_rows: int = 64

    def __init__(
        self,
        geometries: Sequence[Any],
        step_deg: float = 0.02,
        *,
        cache: tuple[Path, str] | None = None,
    ) -> None:
        self._geometries = list(geometries)
        self.step_deg = float(step_deg)
        self._cache = cache
        self._grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._tree: Any = None  # a scipy cKDTree once built; False when there is no coast
        self._rasters: dict[float, np.ndarray] = {}

    # -- the coast's vertices, by 1-degree cell -------------------------------------------
    def _vertices(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit vectors of the boundary vertices sorted by 1° cell, the start of each cell
        (180 × 360 + 1 offsets) and the vertices' latitudes (degrees)."""
        if self._grid is not None:
            return self._grid
        file = key = None
        if self._cache is not None:
            directory, world_key = self._cache
            key = cache_key("coast", world_key, repr(self.step_deg))
            file = directory / f"coast-{key[:24]}.npz"
            arrays = load_arrays(file, key, ("xyz", "start", "lat"))
            if arrays is not None and arrays["start"].shape == (_NCELL + 1,):
                self._grid = (arrays["xyz"], arrays["start"].astype(np.int64), arrays["lat"])
                return self._grid
        if self._geometries:
            lines = shapely.segmentize(
                shapely.boundary(np.array(self._geometries, dtype=object)), self.step_deg
            )
            xy = shapely.get_coordinates(lines)
        else:
            xy = np.zeros((0, 2))
        cell = _cell_of(xy[:, 1], xy[:, 0])
        order = np.argsort(cell, kind="stable")
        xy, cell = xy[order], cell[order]
        start = np.searchsorted(cell, np.arange(_NCELL + 1)).astype(np.int64)
        self._grid = (unit_xyz(xy[:, 1], xy[:, 0]), start, xy[:, 1].copy())
        if file is not None and key is not None:
            save_arrays(file, key, {"xyz": self._grid[0], "start": start, "lat": self._grid[2]})
        return self._grid

    def _kdtree(self) -> Any:
        if self._tree is None:
            from scipy.spatial import cKDTree  # imported when first needed: a fast start

            xyz = self._vertices()[0]
            self._tree = cKDTree(xyz) if len(xyz) else False
        return None if self._tree is False else self._tree

    def distance_km(self, lat: np.ndarray, lon: np.ndarray, limit_km: float) -> np.ndarray:
        """Great-circle distance to the nearest boundary vertex (``inf`` beyond ``limit_km``).

        Few points (:attr:`grid_max_rows`) scan the vertices of the 1° cells within the
        limit; more points query a k-d tree over all vertices (built once). Same answer.
        """
        out = np.full(lat.shape, np.inf)
        if lat.size == 0:
            return out
        chord_limit = 2 * math.sin(min(limit_km / MEAN_EARTH_RADIUS_KM, math.pi) / 2) * 1.000001
        if lat.size <= self.grid_max_rows and limit_km <= _GRID_MAX_KM:
            chord = np.array(
                [
                    self._grid_chord(float(a), float(b), limit_km)
                    for a, b in zip(lat, lon, strict=True)
                ]
            )
        else:
            tree = self._kdtree()
            if tree is None:
                return out
            chord, _ = tree.query(unit_xyz(lat, lon), distance_upper_bound=chord_limit)
        ok = np.isfinite(chord) & (chord <= chord_limit)
        out[ok] = 2 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.minimum(chord[ok] / 2, 1.0))
        return out

    def _grid_chord(self, lat: float, lon: float, limit_km: float) -> float:
        """Chord (unit sphere) to the nearest vertex in the cells within ``limit_km``."""
        xyz, start, _ = self._vertices()
        dlat = limit_km / _KM_PER_DEG_MIN + 1e-9
        lat0, lat1 = max(lat - dlat, -90.0), min(lat + dlat, 90.0)
        rows = range(int(math.floor(lat0 + 90.0)), min(int(math.floor(lat1 + 90.0)), 179) + 1)
        widest = max(abs(lat0), abs(lat1))
        # every point within the limit differs in longitude by at most asin(sin d / cos lat)
        reach = math.sin(math.radians(dlat)) / max(math.cos(math.radians(widest)), 1e-12)
        dlon = 180.0 if reach >= 1.0 else math.degrees(math.asin(reach)) * 1.0001 + 1e-9
        if dlon >= 180.0:
            cols = list(range(360))
        else:
            c0 = int(math.floor(lon - dlon + 180.0))
            c1 = int(math.floor(lon + dlon + 180.0))
            cols = sorted({c % 360 for c in range(c0, c1 + 1)})
        spans = [(start[r * 360 + c], start[r * 360 + c + 1]) for r in rows for c in cols]
        idx = np.concatenate([np.arange(a, b) for a, b in spans if b > a] or [np.zeros(0, int)])
        if idx.size == 0:
            return math.inf
        point = unit_xyz(np.array([lat]), np.array([lon]))[0]
        return float(np.sqrt(((xyz[idx] - point) ** 2).sum(axis=1)).min())

    def beyond_km(self, lat: np.ndarray, lon: np.ndarray, km: float) -> np.ndarray:
        """Whether each point is more than ``km`` from land (the boundary vertex set)."""
        out = np.zeros(lat.shape, dtype=bool)
        if lat.size == 0:
            return out
        todo = np.arange(lat.size)
        if lat.size >= self.raster_min_rows:
            cls = self.raster(km)
            step = self.raster_step_deg
            i = np.clip(((lat + 90.0) / step).astype(np.int64), 0, cls.shape[0] - 1)
            j = np.clip(((lon + 180.0) / step).astype(np.int64), 0, cls.shape[1] - 1)
            c = cls[i, j]
            out[c == 1] = True
            todo = np.flatnonzero(c == 0)
        out[todo] = self.distance_km(lat[todo], lon[todo], km) > km
        return out

    def raster(self, km: float) -> np.ndarray:
        """Per raster cell: 1 = every point beyond ``km`` of land, -1 = every point within,
        0 = mixed."""
        if km in self._rasters:
            return self._rasters[km]
        step = self.raster_step_deg
        nlat, nlon = int(round(180 / step)), int(round(360 / step))
        clat = -90.0 + step * (np.arange(nlat) + 0.5)
        clon = -180.0 + step * (np.arange(nlon) + 0.5)
        # the farthest point of a cell from its centre is a corner (or an edge midpoint)
        h = step / 2
        offsets = [(-h, -h), (-h, h), (h, -h), (h, h), (-h, 0.0), (h, 0.0), (0.0, h)]
        half = np.max(
            [great_circle_km(clat, 0.0, np.clip(clat + a, -90, 90), b) for a, b in offsets], axis=0
        )
        half = half * 1.001 + 0.01
        glat, glon = np.meshgrid(clat, clon, indexing="ij")
        d = self.distance_km(glat.ravel(), glon.ravel(), km + float(half.max()) + 1.0)
        d = d.reshape(nlat, nlon)
        cls = np.zeros((nlat, nlon), dtype=np.int8)
        cls[d > km + half[:, None]] = 1
        cls[d + half[:, None] < km] = -1
        self._rasters[km] = cls
        return cls
