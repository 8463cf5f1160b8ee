"""Which satellites each ground site sees: exact elevation on the WGS84 ellipsoid.

Elevation is measured from the site's geodetic horizon plane (normal = ellipsoid normal at the
site). A satellite with elevation ≥ 0 is above that plane, and the plane supports the convex
ellipsoid, so a non-negative mask also guarantees the Earth does not block the line of sight.

Candidates come from a latitude/longitude grid on the unit sphere (:class:`SiteIndex`): each
site keeps, once, the grid cells its visibility cap can reach (the largest central angle the mask
allows for the highest satellite, with margin); at each instant the satellites are binned into
the grid and every site's candidates are contiguous runs of the binned satellites. The exact
elevation test is the final filter, run over chunks of consecutive sites so that its temporaries
stay in cache (see :meth:`SiteIndex.visible_pairs`). Output is sparse: one row per visible
(site, satellite) pair.
With ``cluster_km`` the candidates come instead from a ``scipy.spatial.cKDTree`` range query per
cluster of nearby sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from skyfence.errors import InputError
from skyfence.links import compiled

_FIRST_K = 48
# geodetic vs geocentric horizon tilt is <= 0.193 deg; bound the cap with this margin
_TILT_MARGIN_DEG = 0.25
# SiteIndex grid: latitude bands and longitude columns (radians), and the headroom in satellite
# radius (km) kept when an index is built, so small altitude changes do not force a rebuild
_BAND_RAD = np.radians(1.5)
_COL_RAD = np.radians(0.25)
_R_SAT_HEADROOM_KM = 10.0
_BLOCK = 1 << 15  # candidates per block of the reference exact test
_CHUNK_RUNS = 12288  # runs of grid cells per chunk of sites in the exact test

KERNELS = ("auto", "numpy", "compiled")
"""``numpy``: the exact test over numpy temporaries; ``compiled``: the same test in compiled loops
(:mod:`skyfence.links.compiled`, needs numba); ``auto``: compiled when numba is installed."""

__all__ = [
    "KERNELS",
    "DeferredPairs",
    "SiteIndex",
    "SortedSats",
    "VisiblePairs",
    "max_slant_range_km",
    "elevation_deg",
    "elevation_of",
    "visible_pairs",
]


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

    def per_site(self, n_sites: int) -> np.ndarray:
        """(n_sites,) number of pairs of each site (visible satellites per site)."""
        return np.bincount(self.site, minlength=n_sites)[:n_sites]

    def for_site(self, i: int) -> VisiblePairs:
        """The pairs of one site."""
        lo, hi = np.searchsorted(self.site, [i, i + 1])
        return VisiblePairs(
            self.site[lo:hi], self.sat[lo:hi], self.elevation_deg[lo:hi], self.range_km[lo:hi]
        )


class DeferredPairs(VisiblePairs):
    """The :class:`VisiblePairs` of a :class:`SiteIndex` at one instant, listed on first use of
    any of its arrays (a ``min-rtt`` network step does not need them; see
    ``NetworkModel.step``). Pickles as the plain :class:`VisiblePairs`."""

    def __init__(self, index: SiteIndex, srt: SortedSats | None) -> None:
        object.__setattr__(self, "_source", (index, srt))

    def __getattr__(self, name: str) -> Any:
        pending = self.__dict__.get("_source")
        if name not in _PAIR_FIELDS or pending is None:
            raise AttributeError(name)
        index, srt = pending
        if srt is None:
            empty = np.zeros(0, dtype=np.int64)
            pairs = VisiblePairs(empty, empty, np.zeros(0), np.zeros(0))
        else:
            pairs = index.pairs_of(srt)
        for f in _PAIR_FIELDS:
            object.__setattr__(self, f, getattr(pairs, f))
        object.__setattr__(self, "_source", None)
        return getattr(pairs, name)

    def per_site(self, n_sites: int) -> np.ndarray:
        """:meth:`VisiblePairs.per_site`, counted by the compiled loop when the pairs have not
        been listed (a coverage sweep needs the counts, not the pairs)."""
        pending = self.__dict__.get("_source")
        if pending is None or pending[1] is None or n_sites != len(pending[0]):
            return super().per_site(n_sites)
        return compiled.count_per_site(*pending)

    def __reduce__(self) -> tuple[Any, ...]:
        return (VisiblePairs, tuple(getattr(self, f) for f in _PAIR_FIELDS))


_PAIR_FIELDS = ("site", "sat", "elevation_deg", "range_km")


@dataclass(frozen=True)
class SortedSats:
    """The finite satellites of one instant sorted by :class:`SiteIndex` grid cell: ``sat_id``
    (row in the satellite array of each sorted slot), ``xyz`` (three contiguous coordinate
    arrays in slot order) and ``cell_start`` (first slot of each cell, one past the end last)."""

    sat_id: np.ndarray
    xyz: tuple[np.ndarray, ...]
    cell_start: np.ndarray


class SiteIndex:
    """A fixed set of sites prepared for repeated :func:`visible_pairs` queries.

    Build once per site set (terminals are static while satellites move) and call
    :meth:`visible_pairs` at each instant; the result is identical to :func:`visible_pairs` on
    the same arrays. Each site keeps the runs of grid cells (latitude bands x longitude columns
    on the unit sphere) that its visibility cap can reach: the cap's angular radius is the largest
    central angle at which a satellite no higher than the index's satellite radius can be seen at
    the site's mask minus 0.25° (covering the geodetic-vs-geocentric horizon tilt). At query time
    the satellites are sorted by grid cell, so each run is a contiguous slice of them; the exact
    elevation test then filters every candidate. A query with a satellite above the indexed
    radius rebuilds the runs (with headroom) first.

    Parameters
    ----------
    site_ecef_km, site_up : (N, 3)
    min_elevation_deg : float or (N,) array, degrees within [0, 90)
    sat_radius_km : float, optional
        Largest satellite geocentric radius to plan for (default: set by the first query).
    """

    def __init__(
        self,
        site_ecef_km: np.ndarray,
        site_up: np.ndarray,
        min_elevation_deg: float | np.ndarray = 25.0,
        *,
        sat_radius_km: float | None = None,
        kernel: str = "auto",
    ) -> None:
        if kernel not in KERNELS:
            raise InputError(f"kernel {kernel!r} is not one of {', '.join(KERNELS)}")
        if kernel == "compiled" and not compiled.available():
            raise InputError(
                f"kernel 'compiled' is not available: {compiled.unavailable_reason()} "
                "(or use kernel='numpy')"
            )
        self.kernel = (
            "compiled" if kernel == "compiled" or (kernel == "auto" and compiled.available())
            else "numpy"
        )  # fmt: skip
        sites = np.array(site_ecef_km, dtype=np.float64).reshape(-1, 3)
        ups = np.array(site_up, dtype=np.float64).reshape(-1, 3)
        if ups.shape != sites.shape:
            raise InputError(f"site_up must be {sites.shape}, got {ups.shape}")
        mask = np.array(
            np.broadcast_to(np.asarray(min_elevation_deg, dtype=np.float64), (len(sites),))
        )
        if np.any(mask < 0) or np.any(mask >= 90):
            raise InputError("min_elevation_deg must be within [0, 90)")
        self.site_ecef_km, self.site_up, self.min_elevation_deg = sites, ups, mask
        uniform = len(mask) > 0 and bool(np.all(mask == mask[0]))
        sin_mask = np.sin(np.radians(mask))
        self._sin2 = float(sin_mask[0] ** 2) if uniform else sin_mask**2
        self._sin2_all = np.ascontiguousarray(np.broadcast_to(self._sin2, (len(sites),)))
        self._check_zero = not bool(np.all(np.asarray(self._sin2) > 0))
        self._g = [np.ascontiguousarray(sites[:, j]) for j in range(3)]
        self._u = [np.ascontiguousarray(ups[:, j]) for j in range(3)]
        self._n_band = int(np.ceil(np.pi / _BAND_RAD - 1e-9))
        self._n_col = int(np.ceil(2 * np.pi / _COL_RAD - 1e-9))
        self._band_w = np.pi / self._n_band
        self._col_w = 2 * np.pi / self._n_col
        self.sat_radius_km = 0.0
        self._runs: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = None
        self._tiles: compiled.Tiles | None = None
        if sat_radius_km is not None:
            self._plan(float(sat_radius_km))

    def __len__(self) -> int:
        return len(self.site_ecef_km)

    def matches(
        self,
        site_ecef_km: np.ndarray,
        site_up: np.ndarray,
        min_elevation_deg: float | np.ndarray,
    ) -> bool:
        """Whether this index was built for exactly these sites, zenith vectors and masks."""
        n = len(self.site_ecef_km)
        sites = np.asarray(site_ecef_km, dtype=np.float64)
        ups = np.asarray(site_up, dtype=np.float64)
        mask = np.asarray(min_elevation_deg, dtype=np.float64)
        return (
            sites.shape == (n, 3)
            and ups.shape == (n, 3)
            and mask.ndim <= 1
            and mask.size in (1, n)
            and np.array_equal(sites, self.site_ecef_km)
            and np.array_equal(ups, self.site_up)
            and np.array_equal(np.broadcast_to(mask, (n,)), self.min_elevation_deg)
        )

    def _plan(self, r_sat: float) -> None:
        """Per-site runs of grid cells reachable by satellites up to radius ``r_sat`` (and the
        tiles of the compiled kernel)."""
        sites = self.site_ecef_km
        rg = np.sqrt((sites**2).sum(axis=1))
        e = np.radians(self.min_elevation_deg - _TILT_MARGIN_DEG)
        ratio = rg * np.cos(e) / r_sat
        # central angle of a satellite at radius r_sat seen at geocentric elevation e
        cap = np.where(ratio < 1.0, np.pi / 2 - e - np.arcsin(np.minimum(ratio, 1.0)), np.pi) + 1e-7
        with np.errstate(invalid="ignore", divide="ignore"):
            lat0 = np.arcsin(np.clip(sites[:, 2] / rg, -1.0, 1.0))
        lon0 = np.arctan2(sites[:, 1], sites[:, 0])
        run_site, run_lo, run_hi, wraps = self.cap_runs(lat0, lon0, cap)
        # (site, first cell, one past the last cell) of each run; replaced in one assignment
        self._runs = (run_site, run_lo, run_hi, r_sat)
        # first run of each site (runs are site-major) and the sites where a chunk of about
        # _CHUNK_RUNS runs starts: the exact test works chunk by chunk, in cache
        first_run = np.searchsorted(run_site, np.arange(len(sites) + 1))
        cuts = np.searchsorted(first_run, np.arange(0, len(run_site), _CHUNK_RUNS))
        self._first_run = first_run
        self._chunks = np.unique(np.r_[cuts, len(sites)])
        self.sat_radius_km = r_sat
        if self.kernel == "compiled" and len(sites):
            self._tiles = compiled.plan_tiles(self, lat0, cap, rg, wraps)

    def cap_runs(
        self, lat0: np.ndarray, lon0: np.ndarray, cap: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Runs of grid cells covering spherical caps (geocentric centre ``lat0``, ``lon0`` and
        angular radius ``cap``, radians): ``(owner, first cell, one past the last cell)`` per
        run, owner-major, and per cap whether one of its runs crosses the antimeridian."""
        n_band, n_col = self._n_band, self._n_col
        b0 = np.clip(np.floor((lat0 - cap + np.pi / 2) / self._band_w), 0, n_band - 1)
        b1 = np.clip(np.floor((lat0 + cap + np.pi / 2) / self._band_w), 0, n_band - 1)
        b0, b1 = b0.astype(np.int64), b1.astype(np.int64)
        nb = b1 - b0 + 1
        site = np.repeat(np.arange(len(lat0), dtype=np.int64), nb)
        band = np.arange(int(nb.sum()), dtype=np.int64) - np.repeat(np.cumsum(nb) - nb - b0, nb)
        # widest longitude half-span of the cap within each band: at the cap's tangent latitude
        # clipped to the band (the span is unimodal in latitude); x = cos(half-span) there, and
        # x > 1 means that latitude is outside the cap (clipped to span 0)
        edge = -np.pi / 2 + np.arange(n_band + 1) * self._band_w
        sin_e, cos_e = np.sin(edge), np.cos(edge)
        sp = np.sin(lat0)[site]
        cp = np.cos(lat0)[site]
        cr = np.cos(cap)[site]
        full = (lat0 + cap >= np.pi / 2) | (lat0 - cap <= -np.pi / 2)  # the cap holds a pole
        full = full[site]
        with np.errstate(invalid="ignore", divide="ignore"):
            s_lo, s_hi = sin_e[band], sin_e[band + 1]
            s_t = np.clip(np.clip(sp / cr, -1.0, 1.0), s_lo, s_hi)
            x = np.minimum(
                (cr - s_lo * sp) / (cos_e[band] * cp), (cr - s_hi * sp) / (cos_e[band + 1] * cp)
            )
            x = np.minimum(x, (cr - s_t * sp) / (np.sqrt(1.0 - s_t * s_t) * cp))
            half = np.arccos(np.clip(x, -1.0, 1.0))
        half = np.where(np.isnan(half), np.pi, half) + 1e-7
        l0 = lon0[site]
        c0 = np.floor((l0 - half + np.pi) / self._col_w).astype(np.int64)
        c1 = np.floor((l0 + half + np.pi) / self._col_w).astype(np.int64)
        full |= (half >= np.pi) | (c1 - c0 + 1 >= n_col)
        c0 = np.where(full, 0, c0)
        c1 = np.where(full, n_col - 1, c1)
        # a run crossing the antimeridian becomes two runs (site-major order is kept)
        wrap = (c0 < 0) | (c1 >= n_col)
        runs_c0 = np.stack([np.where(c0 < 0, 0, c0), np.where(c0 < 0, c0 + n_col, 0)], axis=1)
        runs_c1 = np.stack(
            [
                np.where(c0 < 0, c1, np.minimum(c1, n_col - 1)),
                np.where(c0 < 0, n_col - 1, c1 - n_col),
            ],
            axis=1,
        )
        used = np.stack([np.ones(len(site), bool), wrap], axis=1).ravel()
        base = np.repeat(band * n_col, 2)[used]
        wraps = np.zeros(len(lat0), bool)
        wraps[site[wrap]] = True
        return (
            np.repeat(site, 2)[used],
            base + runs_c0.ravel()[used],
            base + runs_c1.ravel()[used] + 1,
            wraps,
        )

    def _cell_order(self, s: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(order, cell_start)``: the satellites ``s`` (at radii ``r``) sorted stably by
        their cell of this index's grid, and where each cell's run starts in that order."""
        n_col, n_cells = self._n_col, self._n_band * self._n_col
        lat = np.arcsin(np.clip(s[:, 2] / np.maximum(r, 1e-300), -1.0, 1.0))
        lon = np.arctan2(s[:, 1], s[:, 0])
        band = np.clip(np.floor((lat + np.pi / 2) / self._band_w), 0, self._n_band - 1)
        col = np.clip(np.floor((lon + np.pi) / self._col_w), 0, n_col - 1)
        cell = (band * n_col + col).astype(np.int64)
        cell_start = np.empty(n_cells + 1, dtype=np.int64)
        if self.kernel == "compiled":  # the same order and starts, in one compiled pass
            order = np.empty(len(cell), np.int64)
            compiled.kernels().cell_order(cell, order, cell_start)
        else:
            order = np.argsort(cell, kind="stable")
            cell_start[0] = 0
            np.cumsum(np.bincount(cell, minlength=n_cells), out=cell_start[1:])
        return order, cell_start

    def sort_satellites(
        self, sat_ecef_km: np.ndarray, *, like: SortedSats | None = None
    ) -> SortedSats | None:
        """The satellites of one instant binned into this index's grid (``None`` when no site
        or no finite satellite); replans the runs first if a satellite is above the indexed
        radius. ``like``: the same satellites as another index sorted them (every index has
        the same grid), returned after that check."""
        sats = np.asarray(sat_ecef_km, dtype=np.float64).reshape(-1, 3)
        finite = np.all(np.isfinite(sats), axis=1)
        all_ok = bool(finite.all())
        ok = np.arange(len(sats)) if all_ok else np.flatnonzero(finite)
        if len(self.site_ecef_km) == 0 or len(ok) == 0:
            return None
        s = sats if all_ok else sats[ok]
        r = np.sqrt(np.einsum("ij,ij->i", s, s))
        if self._runs is None or float(r.max()) > self._runs[3]:
            self._plan(float(r.max()) + _R_SAT_HEADROOM_KM)
        if like is not None:
            return like
        order, cell_start = self._cell_order(s, r)
        ss = s[order]
        return SortedSats(
            order if all_ok else ok[order],
            tuple(np.ascontiguousarray(ss[:, j]) for j in range(3)),
            cell_start,
        )

    def visible_pairs(
        self,
        sat_ecef_km: np.ndarray,
        *,
        max_range_km: float | None = None,
        sorted_sats: SortedSats | None = None,
    ) -> VisiblePairs:
        """Same as :func:`visible_pairs` for this index's sites and masks.

        With the ``numpy`` kernel the exact stage runs over chunks of consecutive sites (about
        ``_CHUNK_RUNS`` runs of grid cells each), so every temporary stays in cache: the
        candidates of a chunk are tested, and the kept pairs' elevation and range are computed
        and written straight into the output. Site-side values are repeated per candidate
        rather than gathered. The ``compiled`` kernel tests the sites tile by tile, each tile's
        candidates gathered once (see :class:`skyfence.links.compiled.Tiles`), with the same arithmetic in one loop.
        Either way the pairs, elevations and ranges are identical to
        ``_visible_pairs_reference`` (bit for bit). ``sorted_sats``: these satellites as
        another index sorted them (see :meth:`sort_satellites`).
        """
        srt = self.sort_satellites(sat_ecef_km, like=sorted_sats)
        if srt is None:
            empty = np.zeros(0, dtype=np.int64)
            return VisiblePairs(empty, empty, np.zeros(0), np.zeros(0))
        if self.kernel == "compiled":
            return self.pairs_of(srt, max_range_km=max_range_km)
        return self._visible_numpy(srt, max_range_km)

    def any_visible(self, srt: SortedSats | None) -> np.ndarray:
        """(N,) whether each site sees at least one satellite (has a row in
        :meth:`visible_pairs`), without listing the pairs; compiled kernel only."""
        return compiled.any_visible(self, srt)

    def best_per_site(
        self,
        srt: SortedSats | None,
        todo: np.ndarray,
        source: np.ndarray,
        dist: np.ndarray,
        out_slot: np.ndarray,
        out_cost: np.ndarray,
    ) -> None:
        """For each site with ``todo[i]``: among its visible satellites, the one with the
        smallest ``dist[source[i], satellite] + slant range``, first in :meth:`visible_pairs`
        row order on ties and the first visible one when no cost is finite (what ``min-rtt``
        picks from the pairs), written as a slot of ``srt`` (``-1`` = none visible) into
        ``out_slot[i]`` and its cost into ``out_cost[i]``; compiled kernel only."""
        compiled.best_per_site(self, srt, todo, source, dist, out_slot, out_cost)

    def pairs_of(self, srt: SortedSats, *, max_range_km: float | None = None) -> VisiblePairs:
        """:meth:`visible_pairs` from satellites already sorted (compiled kernel)."""
        site, slot, dot, rng = compiled.pair_arrays(self, srt, max_range_km)
        return VisiblePairs(site, np.take(srt.sat_id, slot), elevation_of(dot, rng), rng)

    def pair_geometry(
        self, srt: SortedSats, site: np.ndarray, slot: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Elevation (deg) and slant range (km) of given (site, sorted slot) pairs, computed
        exactly as :meth:`visible_pairs` computes them."""
        if self.kernel == "compiled":
            dot, rng = compiled.pair_dot_range(self, srt, site, slot)
        else:
            dot, rng2 = self._dot_range2(srt.xyz, site, slot)
            rng = np.sqrt(rng2)
        return elevation_of(dot, rng), rng

    def _visible_numpy(self, srt: SortedSats, max_range_km: float | None) -> VisiblePairs:
        assert self._runs is not None
        run_site, run_lo, run_hi, _ = self._runs
        cell_start, sat_id, sat_xyz = srt.cell_start, srt.sat_id, list(srt.xyz)
        # pass 1: candidates per run (start in the sorted satellites, count), chunk by chunk
        first_run, chunks = self._first_run, self._chunks
        plan = []
        total = 0
        for a, b in zip(chunks[:-1], chunks[1:], strict=True):
            r0, r1 = int(first_run[a]), int(first_run[b])
            start = cell_start[run_lo[r0:r1]]
            cnt = cell_start[run_hi[r0:r1]] - start
            per_site = np.add.reduceat(cnt, first_run[a:b] - r0)
            plan.append((int(a), int(b), start, cnt, per_site))
            total += int(cnt.sum())
        out_site = np.empty(total, np.int64)
        out_sat = np.empty(total, np.int64)
        out_el = np.empty(total)
        out_rng = np.empty(total)
        # pass 2: the exact test of each chunk's candidates, kept pairs written in place
        p = 0
        for a, b, start, cnt, per_site in plan:
            k, slot, dot, rng2, kept = self._test_chunk(
                sat_xyz, a, b, start, cnt, per_site, max_range_km
            )
            q = p + len(k)
            out_site[p:q] = np.repeat(np.arange(a, b, dtype=np.int64), kept)
            np.take(sat_id, np.take(slot, k, mode="clip"), out=out_sat[p:q], mode="clip")
            rng = np.take(rng2, k, out=out_rng[p:q], mode="clip")
            np.sqrt(rng, out=rng)
            el = np.take(dot, k, out=out_el[p:q], mode="clip")
            np.divide(el, rng, out=el)
            np.clip(el, -1.0, 1.0, out=el)
            np.degrees(np.arcsin(el, out=el), out=el)
            p = q
        return VisiblePairs(out_site[:p], out_sat[:p], out_el[:p], out_rng[:p])

    def _test_chunk(
        self,
        sat_xyz: list[np.ndarray],
        a: int,
        b: int,
        start: np.ndarray,
        cnt: np.ndarray,
        per_site: np.ndarray,
        max_range_km: float | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Exact test of the candidates of sites ``a .. b-1``: ``(kept candidate rows, slot in
        the sorted satellites, dot, range², kept count per site)``."""
        end = np.cumsum(cnt)
        slot = np.arange(int(end[-1]) if len(end) else 0, dtype=np.int64)
        slot -= np.repeat(end - cnt - start, cnt)
        # sin(el) = (sat - site)·up / range >= sin(mask), squared (no sqrt) with dot >= 0
        g, u = self._g, self._u
        dx = sat_xyz[0].take(slot)
        dx -= np.repeat(g[0][a:b], per_site)
        dy = sat_xyz[1].take(slot)
        dy -= np.repeat(g[1][a:b], per_site)
        dz = sat_xyz[2].take(slot)
        dz -= np.repeat(g[2][a:b], per_site)
        dot = dx * np.repeat(u[0][a:b], per_site)
        dot += dy * np.repeat(u[1][a:b], per_site)
        dot += dz * np.repeat(u[2][a:b], per_site)
        rng2 = dx * dx
        rng2 += dy * dy
        rng2 += dz * dz
        if isinstance(self._sin2, float):
            keep = dot * dot >= self._sin2 * rng2
        else:
            keep = dot * dot >= np.repeat(self._sin2[a:b], per_site) * rng2
        keep &= dot >= 0
        if not np.all(np.asarray(self._sin2) > 0):
            keep &= rng2 > 0  # a satellite at the site has no elevation
        if max_range_km is not None:
            keep &= rng2 <= float(max_range_km) ** 2
        k = np.flatnonzero(keep)
        # kept pairs per site (a site may have no candidate at all: no reduceat)
        bounds = np.searchsorted(k, np.cumsum(per_site))
        kept = np.diff(bounds, prepend=0)
        return k, slot, dot, rng2, kept

    def _visible_pairs_reference(
        self, sat_ecef_km: np.ndarray, *, max_range_km: float | None = None
    ) -> VisiblePairs:
        """The previous exact stage (blocks of candidates, then one pass over all pairs for the
        elevations), kept as the reference the tests and ``bench/network_step.py`` compare
        :meth:`visible_pairs` with; same result, slower for many sites."""
        sats = np.asarray(sat_ecef_km, dtype=np.float64).reshape(-1, 3)
        finite = np.all(np.isfinite(sats), axis=1)
        all_ok = bool(finite.all())
        ok = np.arange(len(sats)) if all_ok else np.flatnonzero(finite)
        empty = np.zeros(0, dtype=np.int64)
        if len(self.site_ecef_km) == 0 or len(ok) == 0:
            return VisiblePairs(empty, empty, np.zeros(0), np.zeros(0))
        s = sats if all_ok else sats[ok]
        r = np.sqrt(np.einsum("ij,ij->i", s, s))
        runs = self._runs
        if runs is None or float(r.max()) > runs[3]:
            self._plan(float(r.max()) + _R_SAT_HEADROOM_KM)
            runs = self._runs
        order, cell_start = self._cell_order(s, r)
        # candidates: run j covers sorted satellites [start_j, start_j + cnt_j)
        run_site, run_lo, run_hi, _ = runs
        start = cell_start[run_lo]
        cnt = cell_start[run_hi] - start
        end = np.cumsum(cnt)
        total = int(end[-1]) if len(end) else 0
        # blocks of about _BLOCK candidates keep the temporaries in cache and bound memory
        cut = np.r_[0, np.searchsorted(end, np.arange(_BLOCK, total, _BLOCK)), len(cnt)]
        ss = s[order]
        sat_xyz = [np.ascontiguousarray(ss[:, j]) for j in range(3)]
        check_zero = not np.all(np.asarray(self._sin2) > 0)
        parts = []
        for a, b in zip(cut[:-1], cut[1:], strict=True):
            if b > a:
                parts.append(
                    self._test_reference(
                        sat_xyz, start[a:b], cnt[a:b], run_site[a:b], max_range_km, check_zero
                    )
                )
        if not parts:
            return VisiblePairs(empty, empty, np.zeros(0), np.zeros(0))
        site, slot, sin_el, rng = (np.concatenate(x) for x in zip(*parts, strict=True))
        elev = np.degrees(np.arcsin(np.clip(sin_el, -1.0, 1.0, out=sin_el), out=sin_el), out=sin_el)
        sat = order[slot]
        if not all_ok:
            sat = ok[sat]
        return VisiblePairs(site, sat.astype(np.int64, copy=False), elev, rng)

    def _dot_range2(
        self, sat_xyz: list[np.ndarray] | tuple[np.ndarray, ...], site: np.ndarray,
        slot: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """``(sat - site)·up`` and ``|sat - site|²`` of (site, slot) pairs, in numpy, in the
        numpy kernel's order of operations (what every numpy path's results rest on)."""
        dx = sat_xyz[0][slot]
        dx -= self._g[0][site]
        dy = sat_xyz[1][slot]
        dy -= self._g[1][site]
        dz = sat_xyz[2][slot]
        dz -= self._g[2][site]
        dot = dx * self._u[0][site]
        dot += dy * self._u[1][site]
        dot += dz * self._u[2][site]
        rng2 = dx * dx
        rng2 += dy * dy
        rng2 += dz * dz
        return dot, rng2

    def _test_reference(
        self,
        sat_xyz: list[np.ndarray],
        start: np.ndarray,
        cnt: np.ndarray,
        run_site: np.ndarray,
        max_range_km: float | None,
        check_zero: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Exact test of the candidates of some runs: ``(site, slot, sin_el, range)`` kept."""
        end = np.cumsum(cnt)
        slot = np.arange(int(end[-1]), dtype=np.int64)
        slot -= np.repeat(end - cnt - start, cnt)
        site = np.repeat(run_site, cnt)
        # sin(el) = (sat - site)·up / range >= sin(mask), squared (no sqrt) with dot >= 0
        dot, rng2 = self._dot_range2(sat_xyz, site, slot)
        sin2 = self._sin2 if isinstance(self._sin2, float) else self._sin2[site]
        keep = dot * dot >= sin2 * rng2
        keep &= dot >= 0
        if check_zero:
            keep &= rng2 > 0  # a satellite at the site has no elevation
        if max_range_km is not None:
            keep &= rng2 <= float(max_range_km) ** 2
        k = np.flatnonzero(keep)
        rng = np.sqrt(rng2[k])
        return site[k], slot[k], dot[k] / rng, rng


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


def elevation_of(dot: np.ndarray, range_km: np.ndarray) -> np.ndarray:
    """Elevation (deg) from the dot products of pairs (with the site's zenith vector) and their
    slant ranges, written over ``dot``: in numpy, exactly as the numpy kernel computes it (the
    compiled loops leave the ``arcsin`` here, so no libm difference can enter)."""
    el = np.divide(dot, range_km, out=dot)
    np.clip(el, -1.0, 1.0, out=el)
    return np.degrees(np.arcsin(el, out=el), out=el)


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
        Take candidates from a ``cKDTree`` query once per cluster of nearby sites (grid cells
        about this size) with the radius widened by the cluster's extent. Same result; faster
        for dense site sets (H3 cell centres). Without it the candidates come from a
        :class:`SiteIndex` built for this call (build one yourself to reuse it over time steps).

    Returns
    -------
    VisiblePairs
        Rows grouped by site in increasing order; the order of a site's rows is unspecified.
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
    if cluster_km is None or cluster_km <= 0:
        index = SiteIndex(sites, ups, mask, sat_radius_km=r_sat)
        return index.visible_pairs(sats, max_range_km=max_range_km)
    r_site = float(np.sqrt((sites**2).sum(axis=1)).min())
    # 0.25 deg margin covers the geodetic-vs-geocentric tilt of the horizon (<= 0.193 deg); the
    # margined elevation may be negative (a 0° geodetic mask sees slightly below the geocentric one)
    radius = float(max_slant_range_km(float(mask.min()) - _TILT_MARGIN_DEG, r_site, r_sat)) + 1.0
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
