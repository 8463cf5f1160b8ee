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
from typing import Any

import numpy as np
import shapely

from skyfence.geodesy import MEAN_EARTH_RADIUS_KM, great_circle_km

__all__ = ["CoastDistance"]


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

    def __init__(self, geometries: Sequence[Any], step_deg: float = 0.02) -> None:
        self._geometries = list(geometries)
        self.step_deg = float(step_deg)
        self._tree: Any = None  # a scipy cKDTree once built; False when there is no coast
        self._rasters: dict[float, np.ndarray] = {}

    def _kdtree(self) -> Any:
        if self._tree is None:
            from scipy.spatial import cKDTree  # imported when first needed: a fast start

            if self._geometries:
                lines = shapely.segmentize(
                    shapely.boundary(np.array(self._geometries, dtype=object)), self.step_deg
                )
                xy = shapely.get_coordinates(lines)
            else:
                xy = np.zeros((0, 2))
            self._tree = cKDTree(unit_xyz(xy[:, 1], xy[:, 0])) if len(xy) else False
        return None if self._tree is False else self._tree

    def distance_km(self, lat: np.ndarray, lon: np.ndarray, limit_km: float) -> np.ndarray:
        """Great-circle distance to the nearest boundary vertex (``inf`` beyond ``limit_km``)."""
        out = np.full(lat.shape, np.inf)
        tree = self._kdtree()
        if lat.size == 0 or tree is None:
            return out
        chord_limit = 2 * math.sin(min(limit_km / MEAN_EARTH_RADIUS_KM, math.pi) / 2) * 1.000001
        chord, _ = tree.query(unit_xyz(lat, lon), distance_upper_bound=chord_limit)
        ok = np.isfinite(chord)
        out[ok] = 2 * MEAN_EARTH_RADIUS_KM * np.arcsin(np.minimum(chord[ok] / 2, 1.0))
        return out

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
