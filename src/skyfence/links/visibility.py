"""Which satellites each ground site sees: exact elevation on the WGS84 ellipsoid.

Elevation is measured from the site's geodetic horizon plane (normal = ellipsoid normal at the
site). A satellite with elevation ≥ 0 is above that plane, and the plane supports the convex
ellipsoid, so a non-negative mask also guarantees the Earth does not block the line of sight.

Candidates come from a ``scipy.spatial.cKDTree`` range query (radius = the largest slant range
the mask allows for the highest satellite, with margin); the exact elevation test is the final
filter. Output is sparse: one row per visible (site, satellite) pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from skyfence.errors import InputError

_FIRST_K = 48

__all__ = ["VisiblePairs", "max_slant_range_km", "elevation_deg", "visible_pairs"]


@dataclass(frozen=True)
class VisiblePairs:
    """Sparse visibility at one instant; rows grouped by ``site`` in increasing order.

    Attributes
    ----------
    site, sat : (K,) int64
        Row in the site table, row in the satellite array.
    elevation_deg : (K,) float64
    range_km : (K,) float64
        Slant range.
    """

    site: np.ndarray
    sat: np.ndarray
    elevation_deg: np.ndarray
    range_km: np.ndarray

    def __len__(self) -> int:
        return len(self.site)

    def for_site(self, i: int) -> VisiblePairs:
        """The pairs of one site."""
        lo, hi = np.searchsorted(self.site, [i, i + 1])
        return VisiblePairs(
            self.site[lo:hi], self.sat[lo:hi], self.elevation_deg[lo:hi], self.range_km[lo:hi]
        )


def max_slant_range_km(
    min_elevation_deg: float | np.ndarray,
    site_radius_km: float | np.ndarray,
    sat_radius_km: float | np.ndarray,
) -> np.ndarray:
    """Slant range (km) to a satellite at geocentric radius ``sat_radius_km`` seen at elevation
    ``min_elevation_deg`` from a site at geocentric radius ``site_radius_km`` (spherical geometry).

    Examples
    --------
    >>> round(float(max_slant_range_km(25.0, 6371.0, 6371.0 + 550.0)), 1)
    1123.3
    """
    e = np.radians(np.asarray(min_elevation_deg, dtype=np.float64))
    r_site = np.asarray(site_radius_km, dtype=np.float64)
    r_sat = np.asarray(sat_radius_km, dtype=np.float64)
    return -r_site * np.sin(e) + np.sqrt(r_sat**2 - (r_site * np.cos(e)) ** 2)


def elevation_deg(
    site_ecef_km: np.ndarray, site_up: np.ndarray, sat_ecef_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Elevation (deg) and slant range (km) of satellites seen from sites; arrays broadcast on
    the leading axes, last axis xyz. NaN positions give NaN."""
    d = np.asarray(sat_ecef_km, dtype=np.float64) - np.asarray(site_ecef_km, dtype=np.float64)
    rng = np.sqrt(np.einsum("...i,...i->...", d, d))
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.einsum("...i,...i->...", d, np.asarray(site_up, dtype=np.float64)) / rng
    return np.degrees(np.arcsin(np.clip(s, -1.0, 1.0))), rng


def visible_pairs(
    site_ecef_km: np.ndarray,
    site_up: np.ndarray,
    sat_ecef_km: np.ndarray,
    min_elevation_deg: float | np.ndarray = 25.0,
    *,
    max_range_km: float | None = None,
    cluster_km: float | None = None,
) -> VisiblePairs:
    """All (site, satellite) pairs with elevation ≥ the site's mask at one instant.

    Parameters
    ----------
    site_ecef_km, site_up : (N, 3)
        Site positions and geodetic zenith unit vectors (``GroundSites.ecef_km`` / ``.up``).
    sat_ecef_km : (S, 3)
        Earth-fixed satellite positions; NaN rows (propagation errors) are never visible.
    min_elevation_deg : float or (N,) array
        Elevation mask per site, degrees, ≥ 0.
    max_range_km : float, optional
        An additional slant-range cap.
    cluster_km : float, optional
        Query the tree once per cluster of nearby sites (grid cells about this size) with the
        radius widened by the cluster's extent, instead of once per site. Same result; much
        faster for dense site sets (H3 cell centres).

    Returns
    -------
    VisiblePairs
    """
    sites = np.asarray(site_ecef_km, dtype=np.float64).reshape(-1, 3)
    ups = np.asarray(site_up, dtype=np.float64).reshape(-1, 3)
    sats = np.asarray(sat_ecef_km, dtype=np.float64).reshape(-1, 3)
    mask = np.broadcast_to(np.asarray(min_elevation_deg, dtype=np.float64), (len(sites),))
    if np.any(mask < 0) or np.any(mask >= 90):
        raise InputError("min_elevation_deg must be within [0, 90)")
    ok = np.flatnonzero(np.all(np.isfinite(sats), axis=1))
    empty = np.zeros(0, dtype=np.int64)
    if len(sites) == 0 or len(ok) == 0:
        return VisiblePairs(empty, empty, np.zeros(0), np.zeros(0))
    r_sat = float(np.sqrt((sats[ok] ** 2).sum(axis=1)).max())
    r_site = float(np.sqrt((sites**2).sum(axis=1)).min())
    # 0.25 deg margin covers the geodetic-vs-geocentric tilt of the horizon (<= 0.193 deg)
    radius = float(max_slant_range_km(max(float(mask.min()) - 0.25, 0.0), r_site, r_sat)) + 1.0
    if max_range_km is not None:
        radius = min(radius, float(max_range_km))
    sat_tree = cKDTree(sats[ok])
    padded = np.vstack([sats[ok], np.full((1, 3), np.nan)])  # index len(ok) = "no neighbour"
    sin_mask = np.sin(np.radians(mask))
    if cluster_km is not None and cluster_km > 0:
        member, centres, extent = _clusters(sites, float(cluster_km))
        query_points, query_radius = centres, radius + extent
    else:
        member, query_points, query_radius = None, sites, radius
    k = min(_FIRST_K, len(ok))
    rows = np.arange(len(query_points))
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    while len(rows):
        dist, idx = sat_tree.query(query_points[rows], k=k, distance_upper_bound=query_radius)
        dist = dist.reshape(len(rows), -1)
        idx = idx.reshape(len(rows), -1)
        full = np.isfinite(dist[:, -1]) & (k < len(ok))
        if member is None:
            site_rows, cand = rows[~full], idx[~full]
            rng = dist[~full]
            diff = None
        else:
            done_cluster = np.zeros(len(query_points), bool)
            done_cluster[rows[~full]] = True
            site_rows = np.flatnonzero(done_cluster[member])
            slot = np.full(len(query_points), -1, np.int64)
            slot[rows[~full]] = np.arange(int((~full).sum()))
            cand = idx[~full][slot[member[site_rows]]]
            diff = padded[cand] - sites[site_rows][:, None, :]
            rng = np.sqrt(np.einsum("nkj,nkj->nk", diff, diff))
        # exact elevation in the dense (site, candidate) layout: sin(el) = (sat - site)·up / range
        if diff is None:
            dot = (
                np.einsum("nkj,nj->nk", padded[cand], ups[site_rows])
                - np.einsum("nj,nj->n", sites[site_rows], ups[site_rows])[:, None]
            )
        else:
            dot = np.einsum("nkj,nj->nk", diff, ups[site_rows])
        with np.errstate(invalid="ignore"):
            sin_el = dot / rng
            keep = sin_el >= sin_mask[site_rows][:, None]
            if max_range_km is not None:
                keep &= rng <= max_range_km
        r, c = np.nonzero(keep)
        parts.append((site_rows[r], ok[cand[r, c]], sin_el[r, c], rng[r, c]))
        rows = rows[full]
        k = min(2 * k, len(ok))
    si = np.concatenate([p[0] for p in parts]).astype(np.int64)
    sj = np.concatenate([p[1] for p in parts]).astype(np.int64)
    elev = np.degrees(np.arcsin(np.clip(np.concatenate([p[2] for p in parts]), -1.0, 1.0)))
    rng_all = np.concatenate([p[3] for p in parts])
    if len(parts) > 1:
        order = np.argsort(si, kind="stable")
        si, sj, elev, rng_all = si[order], sj[order], elev[order], rng_all[order]
    return VisiblePairs(si, sj, elev, rng_all)


def _clusters(sites: np.ndarray, cell_km: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Group sites by a latitude/longitude grid of about ``cell_km``: ``(member (N,) cluster of each
    site, centres (C, 3) mean position, extent = largest site distance from its centre, km)``."""
    lat = np.degrees(np.arctan2(sites[:, 2], np.hypot(sites[:, 0], sites[:, 1])))
    lon = np.degrees(np.arctan2(sites[:, 1], sites[:, 0]))
    dlat = cell_km / 111.0
    band = np.floor((lat + 90.0) / dlat)
    width = dlat / np.maximum(
        np.cos(
            np.radians(np.minimum(np.abs(band * dlat - 90.0), np.abs((band + 1) * dlat - 90.0)))
        ),
        1e-3,
    )
    col = np.floor((lon + 180.0) / width)
    key = band * 1e6 + col
    _, member = np.unique(key, return_inverse=True)
    member = member.reshape(-1)
    n = int(member.max()) + 1
    counts = np.bincount(member, minlength=n).astype(np.float64)
    centres = (
        np.stack([np.bincount(member, sites[:, j], minlength=n) for j in range(3)], axis=1)
        / counts[:, None]
    )
    extent = float(np.sqrt(((sites - centres[member]) ** 2).sum(axis=1)).max())
    return member, centres, extent + 1e-6
