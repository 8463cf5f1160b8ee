"""The :class:`RegionIndex`: map points (and H3 cells) to regions, fast and exactly.

How it works
------------
The globe is cut into a regular latitude/longitude raster (0.25° by default; 1440 × 720
cells). While the index is built, every region is clipped hierarchically (30° → 5° → 1° →
0.25° tiles), so each clipping step works on a small piece of polygon:

* a raster cell that lies entirely inside a set of regions (and whose area no region
  boundary crosses) is *uniform*: a point there is answered by one table look-up;
* a raster cell that a region boundary crosses is *mixed*: it keeps the clipped piece of
  each region that reaches into it, and a point there is tested exactly with
  ``shapely.intersects_xy`` against those few small pieces.

So every answer is the exact point-in-polygon answer on the boundary data, while most
points cost a few numpy operations. Points on a region boundary count as inside (closed
sets, as ``shapely.intersects_xy``); where two regions share a border, the point belongs to
the region with the lower index in :attr:`RegionIndex.regions` (:meth:`lookup`) or to both
(:meth:`memberships`).

With ``maritime_km > 0`` every region also gets a sea band: the area within that distance
of the region (geodesic buffer, see :func:`skyfence.regions.buffer_km`) that is not land
of any region in the index. Land always wins over sea; where the sea bands of two regions
overlap (narrow straits, e.g. Kinmen and Xiamen), :meth:`lookup` gives the region whose land
is nearest (distance measured in degrees with longitude scaled by cos(latitude)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import h3
import numpy as np
import shapely
from numpy.typing import ArrayLike

from skyfence.errors import InputError
from skyfence.regions._buffer import buffer_km
from skyfence.regions._geos import PREPARED
from skyfence.regions.cache import pack_geometries, unpack_geometries
from skyfence.regions.region import Region, wrap_lon

__all__ = ["RegionIndex"]

_LEVELS_DEG = (30.0, 5.0, 1.0)


def _check_raster(raster_deg: float) -> int:
    per_degree = 1.0 / raster_deg
    if raster_deg <= 0 or raster_deg > 1 or abs(per_degree - round(per_degree)) > 1e-9:
        raise InputError(
            f"raster_deg must divide 1° evenly (e.g. 1, 0.5, 0.25, 0.2, 0.125, 0.1), "
            f"got {raster_deg!r}"
        )
    return int(round(per_degree))


def _clip(geoms: np.ndarray, x0: np.ndarray, y0: np.ndarray, step: float) -> np.ndarray:
    """Clip each geometry to its box ``[x0, x0+step] × [y0, y0+step]``.

    Uses GEOS's rectangle clipper (``shapely.clip_by_rect``), 2-8x faster than a general
    intersection; its output may be invalid at the box edges, which does not change the
    point-in-polygon answer inside the box (checked against plain shapely in the tests).
    The public wrapper takes one rectangle per call; the underlying ufunc broadcasts, so it
    is called directly when available.
    """
    x0 = np.asarray(x0, dtype=float)
    y0 = np.asarray(y0, dtype=float)
    ufunc = getattr(shapely.lib, "clip_by_rect", None)
    if isinstance(ufunc, np.ufunc):
        return ufunc(geoms, x0, y0, x0 + step, y0 + step)
    out = np.empty(len(geoms), dtype=object)
    for i, (g, x, y) in enumerate(zip(geoms, x0.tolist(), y0.tolist(), strict=True)):
        out[i] = shapely.clip_by_rect(g, x, y, x + step, y + step)
    return out


class RegionIndex:
    """Points and H3 cells → regions, vectorised, exact on the boundary data.

    Parameters
    ----------
    regions : sequence of Region
        The regions to index. For :meth:`lookup` they should not overlap (countries);
        :meth:`memberships` handles any overlaps (country + custom polygon + crimea).
    resolution : int
        H3 resolution used by :meth:`lookup_cells` and :meth:`cells` (5 ≈ the ~297 km²
        service cells).
    maritime_km : float
        Width of the sea band each region also claims (0 = land only; 22.224 = 12 nmi
        territorial sea).
    raster_deg : float
        Raster step of the look-up table in degrees (must divide 1°).
    progress : callable, optional
        ``progress(done, total)`` during the build.

    Examples
    --------
    >>> from skyfence.regions import world
    >>> idx = world().index()
    >>> [idx.regions[i].id for i in idx.lookup([24.44, 24.50], [118.37, 118.12])]
    ['TW', 'CN']
    """

    def __init__(
        self,
        regions: Sequence[Region],
        resolution: int = 5,
        *,
        maritime_km: float = 0.0,
        raster_deg: float = 0.25,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.regions: list[Region] = list(regions)
        if not self.regions:
            raise InputError("RegionIndex needs at least one region")
        for r in self.regions:
            if not isinstance(r, Region):
                raise InputError(f"RegionIndex takes Region objects, got {type(r).__name__}")
        if not 0 <= int(resolution) <= 15:
            raise InputError(f"H3 resolution must be 0..15, got {resolution!r}")
        if not math.isfinite(maritime_km) or maritime_km < 0:
            raise InputError(f"maritime_km must be >= 0 km, got {maritime_km!r}")
        self.resolution = int(resolution)
        self.maritime_km = float(maritime_km)
        self.raster_deg = float(raster_deg)
        self._per_deg = _check_raster(self.raster_deg)
        self._ncol = 360 * self._per_deg
        self._nrow = 180 * self._per_deg
        total_steps = len(_LEVELS_DEG) + 2
        report = progress or (lambda done, total: None)

        geoms = [r.geometry for r in self.regions]
        owners = list(range(len(self.regions)))
        sea = [False] * len(self.regions)
        if self.maritime_km > 0:
            land = shapely.union_all(geoms)
            for i, g in enumerate(list(geoms)):
                grown = buffer_km(g, self.maritime_km)
                # only the land near the band matters: clip it first (much faster difference)
                near_land = shapely.clip_by_rect(land, *grown.bounds)
                try:
                    band = shapely.difference(grown, near_land)
                except shapely.errors.GEOSException:  # a clip that came out invalid
                    band = shapely.difference(grown, land)
                band = shapely.make_valid(band)
                if not band.is_empty:
                    geoms.append(band)
                    owners.append(i)
                    sea.append(True)
        self._geoms = np.array(geoms, dtype=object)
        self._owner = np.array(owners, dtype=np.int64)
        self._is_sea = np.array(sea, dtype=bool)
        report(1, total_steps)
        self._build(lambda step: report(1 + step, total_steps))
        report(total_steps, total_steps)

    # -- build ----------------------------------------------------------------------------
    def _build(self, step_done: Callable[[int], None]) -> None:
        steps = sorted({*_LEVELS_DEG, self.raster_deg}, reverse=True)
        full_cells: list[np.ndarray] = []
        full_geom: list[np.ndarray] = []

        # level 0: clip every geometry with the coarse tiles its bounding box touches
        s0 = steps[0]
        ks, rows, cols = [], [], []
        bounds = shapely.bounds(self._geoms)
        for k, (x0, y0, x1, y1) in enumerate(bounds):
            if not np.isfinite(x0):
                continue
            c0, c1 = int((x0 + 180) // s0), min(int((x1 + 180) // s0), int(360 / s0) - 1)
            r0, r1 = int((y0 + 90) // s0), min(int((y1 + 90) // s0), int(180 / s0) - 1)
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    ks.append(k)
                    rows.append(r)
                    cols.append(c)
        k_arr = np.array(ks, dtype=np.int64)
        r_arr = np.array(rows, dtype=np.int64)
        c_arr = np.array(cols, dtype=np.int64)
        pieces = _clip(self._geoms[k_arr], c_arr * s0 - 180.0, r_arr * s0 - 90.0, s0)

        for level, step in enumerate(steps):
            keep = ~shapely.is_empty(pieces)
            k_arr, r_arr, c_arr, pieces = k_arr[keep], r_arr[keep], c_arr[keep], pieces[keep]
            boxes = shapely.box(
                c_arr * step - 180,
                r_arr * step - 90,
                (c_arr + 1) * step - 180,
                (r_arr + 1) * step - 90,
            )
            area = shapely.area(pieces)
            maybe_full = area >= step * step * (1 - 1e-9)
            full = np.zeros(len(pieces), dtype=bool)
            if maybe_full.any():
                full[maybe_full] = shapely.covers(pieces[maybe_full], boxes[maybe_full])
            # full tiles: expand to the leaf raster cells they cover
            m = int(round(step * self._per_deg))
            if full.any():
                fr, fc, fk = r_arr[full], c_arr[full], k_arr[full]
                offs = np.arange(m)
                leaf_r = (fr[:, None, None] * m + offs[None, :, None]).repeat(m, axis=2)
                leaf_c = (fc[:, None, None] * m + offs[None, None, :]).repeat(m, axis=1)
                full_cells.append((leaf_r * self._ncol + leaf_c).ravel())
                full_geom.append(np.repeat(fk, m * m))
            part = ~full
            k_arr, r_arr, c_arr, pieces = k_arr[part], r_arr[part], c_arr[part], pieces[part]
            if level == len(steps) - 1:
                break
            nxt = steps[level + 1]
            f = int(round(step / nxt))
            # children that the piece's bounding box reaches
            pb = shapely.bounds(pieces)
            cr = (r_arr[:, None, None] * f + np.arange(f)[None, :, None]).repeat(f, axis=2)
            cc = (c_arr[:, None, None] * f + np.arange(f)[None, None, :]).repeat(f, axis=1)
            owner = np.broadcast_to(np.arange(len(pieces))[:, None, None], cr.shape)
            cr, cc, owner = cr.ravel(), cc.ravel(), owner.ravel()
            x0 = cc * nxt - 180
            y0 = cr * nxt - 90
            near = (
                (x0 <= pb[owner, 2])
                & (x0 + nxt >= pb[owner, 0])
                & (y0 <= pb[owner, 3])
                & (y0 + nxt >= pb[owner, 1])
            )
            cr, cc, owner, x0, y0 = cr[near], cc[near], owner[near], x0[near], y0[near]
            pieces = _clip(pieces[owner], x0, y0, nxt)
            k_arr, r_arr, c_arr = k_arr[owner], cr, cc
            step_done(level + 1)

        ncell = self._nrow * self._ncol
        fcells = np.concatenate(full_cells) if full_cells else np.zeros(0, np.int64)
        fgeom = np.concatenate(full_geom) if full_geom else np.zeros(0, np.int64)
        pcells = r_arr * self._ncol + c_arr
        pgeom = k_arr

        mixed_mask = np.zeros(ncell, dtype=bool)
        mixed_mask[pcells] = True
        # mixed cells: their partial pieces plus any region that covers the whole cell
        in_mixed = mixed_mask[fcells]
        e_cells = np.concatenate([pcells, fcells[in_mixed]])
        e_geom = np.concatenate([pgeom, fgeom[in_mixed]])
        e_piece = np.concatenate([pieces, np.full(int(in_mixed.sum()), None, dtype=object)])
        order = np.lexsort((e_geom, e_cells))
        e_cells, e_geom, e_piece = e_cells[order], e_geom[order], e_piece[order]
        mixed_ids, starts = np.unique(e_cells, return_index=True)
        self._mix_ptr = np.append(starts, len(e_cells)).astype(np.int64)
        self._mix_geom = e_geom.astype(np.int64)
        self._mix_full = np.array([p is None for p in e_piece], dtype=bool)
        self._mix_piece = e_piece
        shapely.prepare(self._mix_piece[~self._mix_full])
        self._piece_wkb: tuple[bytes, np.ndarray, np.ndarray] | None = None  # see from_arrays

        # uniform cells: the set of geometries covering them (usually one)
        u_cells, u_geom = fcells[~in_mixed], fgeom[~in_mixed]
        order = np.lexsort((u_geom, u_cells))
        u_cells, u_geom = u_cells[order], u_geom[order]
        cells_u, first, counts = np.unique(u_cells, return_index=True, return_counts=True)
        n_geom = len(self._geoms)
        set_members: list[tuple[int, ...]] = [()] + [(k,) for k in range(n_geom)]
        set_ids = 1 + u_geom[first]
        multi: dict[tuple[int, ...], int] = {}
        for j in np.flatnonzero(counts > 1):
            key = tuple(int(v) for v in u_geom[first[j] : first[j] + counts[j]])
            if key not in multi:
                multi[key] = len(set_members)
                set_members.append(key)
            set_ids[j] = multi[key]
        table = np.zeros(ncell, dtype=np.int32)
        table[cells_u] = set_ids
        table[mixed_ids] = -(np.arange(len(mixed_ids), dtype=np.int32) + 1)
        self._table = table
        sizes = np.array([len(s) for s in set_members], dtype=np.int64)
        self._set_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._set_geom = np.array([k for s in set_members for k in s], dtype=np.int64)
        self._set_decided = np.array([self._decide_static(s) for s in set_members], dtype=np.int64)
        step_done(len(steps))

    def _decide_static(self, geoms: tuple[int, ...]) -> int:
        """Region of a point covered by exactly these geometries, or -2 if it needs distances."""
        if not geoms:
            return -1
        land = [int(self._owner[k]) for k in geoms if not self._is_sea[k]]
        if land:
            return min(land)
        owners = {int(self._owner[k]) for k in geoms}
        return owners.pop() if len(owners) == 1 else -2

    # -- saving and loading ---------------------------------------------------------------
    _ARRAYS = (
        "params",
        "region_ids",
        "geom_buffer",
        "geom_sizes",
        "owner",
        "is_sea",
        "table",
        "mix_ptr",
        "mix_geom",
        "mix_full",
        "piece_buffer",
        "piece_sizes",
        "set_ptr",
        "set_geom",
        "set_decided",
    )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The built structures as plain arrays (geometry as WKB), for :meth:`from_arrays`."""
        geom_buffer, geom_sizes = pack_geometries(self._geoms)
        self._load_pieces(np.arange(len(self._mix_piece)))
        piece_buffer, piece_sizes = pack_geometries(self._mix_piece)
        return {
            "params": np.array([self.resolution, self.maritime_km, self.raster_deg]),
            "region_ids": np.array([r.id for r in self.regions], dtype=str),
            "geom_buffer": geom_buffer,
            "geom_sizes": geom_sizes,
            "owner": self._owner,
            "is_sea": self._is_sea,
            "table": self._table,
            "mix_ptr": self._mix_ptr,
            "mix_geom": self._mix_geom,
            "mix_full": self._mix_full,
            "piece_buffer": piece_buffer,
            "piece_sizes": piece_sizes,
            "set_ptr": self._set_ptr,
            "set_geom": self._set_geom,
            "set_decided": self._set_decided,
        }

    @classmethod
    def from_arrays(
        cls, regions: Sequence[Region], arrays: Mapping[str, np.ndarray]
    ) -> RegionIndex:
        """An index from :meth:`to_arrays` output over the same ``regions``, without building.

        Raises ``ValueError`` when the arrays do not fit together or do not belong to
        ``regions`` (a cache that is damaged or stale is then rebuilt by the caller).
        """
        self = cls.__new__(cls)
        self.regions = list(regions)
        ids = [str(i) for i in arrays["region_ids"].tolist()]
        if ids != [r.id for r in self.regions]:
            raise ValueError("the saved index is of other regions")
        resolution, maritime_km, raster_deg = (float(v) for v in arrays["params"])
        self.resolution = int(resolution)
        self.maritime_km = maritime_km
        self.raster_deg = raster_deg
        self._per_deg = _check_raster(raster_deg)
        self._ncol = 360 * self._per_deg
        self._nrow = 180 * self._per_deg
        self._geoms = unpack_geometries(arrays["geom_buffer"], arrays["geom_sizes"])
        self._owner = arrays["owner"].astype(np.int64)
        self._is_sea = arrays["is_sea"].astype(bool)
        self._table = arrays["table"].astype(np.int32)
        self._mix_ptr = arrays["mix_ptr"].astype(np.int64)
        self._mix_geom = arrays["mix_geom"].astype(np.int64)
        self._mix_full = arrays["mix_full"].astype(bool)
        # the clipped pieces are read from their WKB when a query first reaches them: a
        # process that asks about a few points reads a few of the ~60,000 pieces
        piece_sizes = arrays["piece_sizes"].astype(np.int64)
        piece_ends = np.cumsum(np.maximum(piece_sizes, 0))
        self._piece_wkb = (arrays["piece_buffer"].tobytes(), piece_ends, piece_sizes)
        self._mix_piece = np.full(len(piece_sizes), None, dtype=object)
        if piece_ends.size and piece_ends[-1] != len(self._piece_wkb[0]):
            raise ValueError("the saved pieces do not fit their sizes")
        self._set_ptr = arrays["set_ptr"].astype(np.int64)
        self._set_geom = arrays["set_geom"].astype(np.int64)
        self._set_decided = arrays["set_decided"].astype(np.int64)
        n_mixed = len(self._mix_ptr) - 1
        n_sets = len(self._set_ptr) - 1
        ok = (
            self._table.shape == (self._nrow * self._ncol,)
            and len(self._owner) == len(self._geoms) == len(self._is_sea)
            and len(self._mix_geom) == len(self._mix_full) == len(self._mix_piece)
            and self._mix_ptr[-1] == len(self._mix_geom)
            and self._set_ptr[-1] == len(self._set_geom)
            and len(self._set_decided) == n_sets
            and int(self._table.max(initial=0)) < n_sets
            and int(self._table.min(initial=0)) >= -n_mixed
            and bool(np.all((self._owner >= 0) & (self._owner < len(self.regions))))
            and bool(np.all(self._mix_full == (piece_sizes < 0)))
        )
        if not ok:
            raise ValueError("the saved index arrays do not fit together")
        return self

    def _load_pieces(self, entries: np.ndarray) -> None:
        """Read (and prepare) the saved pieces of these mixed-cell entries, once."""
        if self._piece_wkb is None or entries.size == 0:
            return
        entries = np.unique(entries)
        blob, ends, sizes = self._piece_wkb
        todo = entries[(sizes[entries] >= 0)]
        todo = todo[np.equal(self._mix_piece[todo], None)]
        if todo.size == 0:
            return
        starts = ends[todo] - sizes[todo]
        wkb = np.array(
            [blob[a:b] for a, b in zip(starts.tolist(), ends[todo].tolist(), strict=True)],
            dtype=object,
        )
        pieces = shapely.from_wkb(wkb)
        shapely.prepare(pieces)
        self._mix_piece[todo] = pieces
        if not np.any(np.equal(self._mix_piece[sizes >= 0], None)):
            self._piece_wkb = None  # all read

    # -- queries --------------------------------------------------------------------------
    def _prepare_points(self, lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, ...]:
        lat_b, lon_b = np.broadcast_arrays(
            np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        )
        shape = lat_b.shape
        la = lat_b.ravel()
        lo = wrap_lon(lon_b.ravel())
        ok = np.isfinite(la) & np.isfinite(lo) & (la >= -90.0) & (la <= 90.0)
        la_s = np.where(ok, la, 0.0)
        lo_s = np.where(ok, lo, 0.0)
        row = np.minimum(((la_s + 90.0) * self._per_deg).astype(np.int64), self._nrow - 1)
        col = np.minimum(((lo_s + 180.0) * self._per_deg).astype(np.int64), self._ncol - 1)
        code = self._table[row * self._ncol + col]
        code = np.where(ok, code, 0)
        return shape, la, lo, code

    def _mixed_hits(
        self, idx: np.ndarray, code: np.ndarray, la: np.ndarray, lo: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(point, geometry) pairs that hold, for the points ``idx`` in mixed cells."""
        m = -code[idx].astype(np.int64) - 1
        start = self._mix_ptr[m]
        count = self._mix_ptr[m + 1] - start
        pt = np.repeat(idx, count)
        offset = np.arange(len(pt)) - np.repeat(np.cumsum(count) - count, count)
        entry = np.repeat(start, count) + offset
        hit = self._mix_full[entry].copy()
        test = ~hit
        if test.any():
            e = entry[test]
            p = pt[test]
            with PREPARED:  # see skyfence.regions._geos
                self._load_pieces(e)
                hit[test] = shapely.intersects_xy(self._mix_piece[e], lo[p], la[p])
        return pt[hit], self._mix_geom[entry[hit]]

    def _all_hits(
        self, la: np.ndarray, lo: np.ndarray, code: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        uni = np.flatnonzero(code > 0)
        s = code[uni].astype(np.int64)
        count = self._set_ptr[s + 1] - self._set_ptr[s]
        pt_u = np.repeat(uni, count)
        offset = np.arange(len(pt_u)) - np.repeat(np.cumsum(count) - count, count)
        g_u = self._set_geom[np.repeat(self._set_ptr[s], count) + offset]
        pt_m, g_m = self._mixed_hits(np.flatnonzero(code < 0), code, la, lo)
        pt = np.concatenate([pt_u, pt_m])
        g = np.concatenate([g_u, g_m])
        return pt, g

    def lookup(self, lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
        """Index into :attr:`regions` of the region holding each point (-1 = none).

        Parameters
        ----------
        lat, lon : array_like
            Degrees, broadcast together; longitudes are wrapped into [-180, 180].
            NaN or |lat| > 90 gives -1 (no error per element).

        Returns
        -------
        numpy.ndarray of int64 with the broadcast shape of ``lat`` and ``lon``.
        Ties (a point on a border shared by two regions, or inside overlapping regions)
        go to the lower index; land beats the maritime band; overlapping maritime bands
        go to the nearest land.
        """
        shape, la, lo, code = self._prepare_points(lat, lon)
        out = np.full(la.shape, -1, dtype=np.int64)
        uni = code > 0
        out[uni] = self._set_decided[code[uni]]
        mixed = np.flatnonzero(code < 0)
        pending = np.flatnonzero(out == -2)
        if mixed.size:
            pt, g = self._mixed_hits(mixed, code, la, lo)
            out[mixed] = -1
            if not self._is_sea.any():
                best = np.full(la.shape, np.iinfo(np.int64).max, dtype=np.int64)
                np.minimum.at(best, pt, self._owner[g])
                found = best[mixed] != np.iinfo(np.int64).max
                out[mixed[found]] = best[mixed[found]]
            else:
                self._decide_points(out, pt, g, la, lo)
        if pending.size:
            pt, g = self._all_hits(la[pending], lo[pending], code[pending])
            sub = np.full(pending.size, -1, dtype=np.int64)
            self._decide_points(sub, pt, g, la[pending], lo[pending])
            out[pending] = sub
        return out.reshape(shape)

    def _decide_points(
        self, out: np.ndarray, pt: np.ndarray, g: np.ndarray, la: np.ndarray, lo: np.ndarray
    ) -> None:
        big = np.iinfo(np.int64).max
        land = ~self._is_sea[g]
        best = np.full(out.shape, big, dtype=np.int64)
        np.minimum.at(best, pt[land], self._owner[g[land]])
        has_land = best != big
        out[has_land] = best[has_land]
        seas = ~land & ~has_land[pt]
        if not seas.any():
            return
        pairs = np.unique(np.column_stack((pt[seas], self._owner[g[seas]])), axis=0)
        points, first, counts = np.unique(pairs[:, 0], return_index=True, return_counts=True)
        single = counts == 1
        out[points[single]] = pairs[first[single], 1]
        for p, f, c in zip(points[~single], first[~single], counts[~single], strict=True):
            cands = pairs[f : f + c, 1]
            scale = max(math.cos(math.radians(float(la[p]))), 1e-6)
            dists = []
            for owner in cands:
                geom = shapely.affinity.scale(
                    self.regions[owner].geometry, xfact=scale, yfact=1.0, origin=(0.0, 0.0)
                )
                dists.append(shapely.distance(geom, shapely.Point(lo[p] * scale, la[p])))
            out[p] = int(cands[int(np.argmin(dists))])

    def memberships(self, lat: ArrayLike, lon: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Every (point, region) containment pair, for overlapping region sets.

        Returns
        -------
        point_index, region_index : numpy.ndarray of int64
            Sorted by point, then region; ``point_index`` indexes the flattened broadcast of
            ``lat`` and ``lon``. A point in a region's maritime band counts as a member.
        """
        _, la, lo, code = self._prepare_points(lat, lon)
        pt, g = self._all_hits(la, lo, code)
        owner = self._owner[g]
        if pt.size == 0:
            return pt.astype(np.int64), owner.astype(np.int64)
        pairs = np.unique(np.column_stack((pt, owner)), axis=0)
        return pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)

    def lookup_cells(self, cells: ArrayLike) -> np.ndarray:
        """Region index of each H3 cell's centre (-1 = none), cells as uint64 or hex strings."""
        items = list(cells) if isinstance(cells, list | tuple) else np.atleast_1d(cells).tolist()
        lat = np.empty(len(items))
        lon = np.empty(len(items))
        for i, c in enumerate(items):
            text = c if isinstance(c, str) else h3.int_to_str(int(c))
            lat[i], lon[i] = h3.cell_to_latlng(text)
        return self.lookup(lat, lon)

    def cells(self, region: int | str | Region, resolution: int | None = None) -> np.ndarray:
        """The H3 cover of a region (by index, id or object) at ``resolution`` (default the index's)."""
        return self.region(region).cells(self.resolution if resolution is None else resolution)

    def region(self, key: int | str | Region) -> Region:
        """A region of the index by position, id or object."""
        if isinstance(key, Region):
            return key
        if isinstance(key, int | np.integer):
            return self.regions[int(key)]
        for r in self.regions:
            if r.id.upper() == str(key).upper():
                return r
        raise InputError(
            f"no region {key!r} in this index; ids: "
            f"{', '.join(r.id for r in self.regions[:20])}"
            f"{' ...' if len(self.regions) > 20 else ''}"
        )

    @property
    def nbytes(self) -> int:
        """Approximate memory of the look-up structures in bytes (tables and piece coordinates)."""
        arrays = (
            self._table,
            self._mix_ptr,
            self._mix_geom,
            self._mix_full,
            self._set_ptr,
            self._set_geom,
            self._set_decided,
        )
        self._load_pieces(np.arange(len(self._mix_piece)))
        coords = int(shapely.get_num_coordinates(self._mix_piece[~self._mix_full]).sum())
        # 16 bytes per coordinate pair plus ~200 bytes of GEOS overhead per piece
        return sum(a.nbytes for a in arrays) + coords * 16 + len(self._mix_piece) * 200

    @property
    def stats(self) -> dict[str, int]:
        """Counts describing the table: raster cells, uniform and mixed cells, pieces."""
        return {
            "raster_cells": int(self._table.size),
            "mixed_cells": int(len(self._mix_ptr) - 1),
            "uniform_cells": int((self._table > 0).sum()),
            "pieces": int((~self._mix_full).sum()),
        }
