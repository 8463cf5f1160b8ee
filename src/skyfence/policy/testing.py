"""Small helpers to test code that uses the policy engine without the world's boundaries.

:func:`box_region` makes a lon/lat box region and :class:`SimpleIndex` is a plain shapely
index with the ``lookup`` / ``memberships`` interface of ``skyfence.regions.RegionIndex``
(slower, but obviously right), so a policy can be compiled against hand-made regions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

__all__ = ["box_region", "SimpleIndex"]


def box_region(
    region_id: str,
    min_lon: float,
    min_lat: float,
    max_lon: float,
    max_lat: float,
    *,
    kind: str = "custom",
) -> Any:
    """A ``skyfence.regions.Region`` covering a lon/lat box (degrees).

    Examples
    --------
    >>> r = box_region("B", 0, 0, 1, 1)
    >>> bool(r.contains(0.5, 0.5)[0])
    True
    """
    from skyfence.regions.region import Region

    geom = shapely.box(min_lon, min_lat, max_lon, max_lat)
    return Region(region_id, region_id, geom, kind=kind)


class SimpleIndex:
    """Point-in-region index over any regions with a shapely ``geometry`` (STRtree).

    Points on a boundary count as inside, as in ``Region.contains``.
    """

    def __init__(self, regions: Sequence[Any], resolution: int | None = None):
        self.regions = list(regions)
        self._tree = shapely.STRtree([r.geometry for r in self.regions])

    def memberships(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        """All (point, region) containment pairs, sorted by point then region."""
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        lon = np.atleast_1d(np.asarray(lon, dtype=float))
        if not self.regions or lat.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy()
        pts = shapely.points(lon, lat)
        pi, ri = self._tree.query(pts, predicate="intersects")
        order = np.lexsort((ri, pi))
        return pi[order].astype(np.int64), ri[order].astype(np.int64)

    def lookup(self, lat: Any, lon: Any) -> np.ndarray:
        """Index of a region containing each point (the lowest index), -1 for none."""
        lat = np.atleast_1d(np.asarray(lat, dtype=float))
        out = np.full(lat.shape[0], -1, dtype=np.int64)
        pi, ri = self.memberships(lat, lon)
        if pi.size:
            first = np.r_[True, pi[1:] != pi[:-1]]
            out[pi[first]] = ri[first]
        return out
