"""Compiled loops of the terminal visibility kernel (optional: ``pip install skyfence[fast]``).

:class:`~skyfence.links.visibility.SiteIndex` gives every site a few runs of grid cells, each a
contiguous slice of the satellites sorted by cell. The numpy kernel materialises every candidate
(site, satellite) pair in temporaries; the loops here walk the same candidates in the same order
with the same floating-point operations (``+``, ``-``, ``*`` and ``sqrt`` in the same order, all
correctly rounded, no fused multiply-add, no fast-math), so their decisions and numbers are bit
for bit those of the numpy kernel. Transcendental functions (the elevation's ``arcsin``) stay in
numpy so that no libm difference can enter.

Loops over the same candidates:

* :func:`pair_arrays` — every visible pair (site, sorted slot, dot, range);
* :func:`count_per_site` — how many satellites each site sees;
* :func:`any_visible` — whether a site sees at least one satellite (the satellite nearest its
  tile's centre first);
* :func:`best_per_site` — for ``min-rtt``: per site, the visible satellite with the smallest
  ``dist[source, satellite] + range`` (first on ties, in the row order of
  :func:`pair_arrays`), without materialising any pair, costing only the candidates that a
  bound around the tile's centre cannot rule out (see ``_loops.tile_best``);
* :func:`pair_dot_range` — the serving pairs' dot products and ranges.

``numba`` is imported on first use only; :func:`available` says whether it can be.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

__all__ = [
    "Tiles",
    "any_visible",
    "available",
    "best_sites",
    "best_per_site",
    "count_per_site",
    "csr_arrays",
    "dist_by_slot",
    "kernels",
    "pair_arrays",
    "pair_dot_range",
    "plan_tiles",
    "step_kernels",
    "unavailable_reason",
]

TILE_DEG = 2.0
"""Tile size of the compiled kernel (latitude, and longitude at the tile's widest), degrees."""


@cache
def unavailable_reason() -> str | None:
    """Why the compiled kernel cannot be used (``None`` when it can)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return "numba is not installed: pip install 'skyfence[fast]'"
    except Exception as exc:  # a broken install, or a local module shadowing one numba imports
        return f"numba fails to import ({type(exc).__name__}: {exc})"
    return None


def available() -> bool:
    """Whether ``numba`` can be imported (the compiled kernel can be used)."""
    return unavailable_reason() is None


@cache
def kernels() -> Any:
    """The compiled loops (:mod:`skyfence.links._loops`, compiled on first call and cached on
    disk by numba)."""
    from skyfence.links import _loops

    return _loops


@cache
def step_kernels() -> Any:
    """The compiled loops of a pair-free step (:mod:`skyfence.links._steploops`)."""
    from skyfence.links import _steploops

    return _steploops


def csr_arrays(
    n_nodes: int, rows: np.ndarray, cols: np.ndarray, wts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(indptr, indices, data)`` of the graph with edges ``rows[e] -> cols[e]`` of weight
    ``wts[e]``, identical to ``scipy.sparse.coo_matrix(...).tocsr()``'s (by row, each row by
    column); ``None`` when an edge is listed twice (scipy sums those: let it)."""
    indptr = np.empty(n_nodes + 1, np.int32)
    indices, data = np.empty(len(rows), np.int32), np.empty(len(rows))
    ok = step_kernels().csr_of_edges(n_nodes, rows, cols, wts, indptr, indices, data)
    return (indptr, indices, data) if ok else None


@dataclass(frozen=True)
class Tiles:
    """Sites grouped in small tiles: each tile has runs of grid cells covering the caps of all
    its sites (each site's cap widened by its angle to the tile's centre), so its candidate
    satellites are gathered once per step and tested for every member in one tight loop. A
    tile's candidates are in sorted-slot order, which is also the order of each member's rows.
    ``member`` lists the sites tile by tile (``first_member`` (T+1,)), ``first_run`` (T+1,),
    ``run_lo``/``run_hi`` the tiles' runs; ``own`` are the sites whose rows are listed from
    their own runs (near the antimeridian the order differs), ``ordered`` (per member) the
    others; ``site_arrays`` the sites' positions, zenith vectors and squared mask sines in
    ``member`` order; ``centre_km`` each tile's centre (the mean of its sites, three (T,)
    arrays) and ``reach_km`` (per member) an upper bound of its distance from that centre, so
    that a satellite at distance ``r`` from the centre is at least ``r - reach_km`` from the
    site (triangle inequality; :func:`best_per_site` skips candidates by it); ``inner_km``
    (T,) a distance from the centre within which a satellite is nearly always visible from
    every site of the tile (90 % of the largest slant range at the tile's highest mask, less
    the tile's largest ``reach_km``: a hint, always checked); ``first_core_run`` (T+1,),
    ``core_lo``/``core_hi`` the runs of a small cap around each tile's centre, inside every
    member's cap (where :func:`any_visible` looks first: also a hint)."""

    member: np.ndarray
    first_member: np.ndarray
    first_run: np.ndarray
    run_lo: np.ndarray
    run_hi: np.ndarray
    own: np.ndarray
    ordered: np.ndarray
    site_arrays: tuple[np.ndarray, ...]
    centre_km: tuple[np.ndarray, ...]
    reach_km: np.ndarray
    inner_km: np.ndarray
    first_core_run: np.ndarray
    core_lo: np.ndarray
    core_hi: np.ndarray


def plan_tiles(
    index: Any, lat0: np.ndarray, cap: np.ndarray, rg: np.ndarray, wraps: np.ndarray
) -> Tiles:
    """Group the sites of a ``SiteIndex`` into tiles of about :data:`TILE_DEG` (``lat0``, ``cap``
    and ``wraps`` as its runs were planned; ``rg`` the sites' geocentric radii)."""
    w = np.radians(TILE_DEG)
    band = np.floor((lat0 + np.pi / 2) / w)
    mid = np.abs(-np.pi / 2 + (band + 0.5) * w)
    width = w / np.maximum(np.cos(np.minimum(mid + w / 2, np.pi / 2 - 1e-3)), 1e-3)
    lon0 = np.arctan2(index.site_ecef_km[:, 1], index.site_ecef_km[:, 0])
    col = np.floor((lon0 + np.pi) / width)
    uniq, tile = np.unique(band * 1e7 + col, return_inverse=True)
    tile = tile.reshape(-1).astype(np.int64)
    n_tiles = len(uniq)
    unit = index.site_ecef_km / np.where(rg > 0, rg, 1.0)[:, None]
    centre = np.stack([np.bincount(tile, unit[:, j], minlength=n_tiles) for j in range(3)], 1)
    norm = np.sqrt((centre**2).sum(axis=1))
    centre /= np.where(norm > 0, norm, 1.0)[:, None]
    # a site's cap seen from its tile's centre: its own radius plus its angle to the centre
    # (triangle inequality on the sphere), with margin
    cosang = np.clip(np.einsum("ij,ij->i", unit, centre[tile]), -1.0, 1.0)
    angle = np.arccos(cosang)
    reach = cap + angle + 1e-7
    tile_cap = np.zeros(n_tiles)
    np.maximum.at(tile_cap, tile, reach)
    # a small cap around the centre, well inside every member's cap: where to look first for
    # a satellite every member sees (a hint for any_visible, always checked)
    core = np.full(n_tiles, np.pi)
    np.minimum.at(core, tile, 0.6 * (cap - angle))
    tile_cap[norm < 0.5] = np.pi  # degenerate centre: every cell
    t_lat = np.arcsin(np.clip(centre[:, 2], -1.0, 1.0))
    t_lon = np.arctan2(centre[:, 1], centre[:, 0])
    owner, lo, hi, t_wraps = index.cap_runs(t_lat, t_lon, np.minimum(tile_cap, np.pi))
    c_owner, c_lo, c_hi, _ = index.cap_runs(t_lat, t_lon, np.clip(core, 0.0, np.pi))
    # sites whose own runs (or their tile's) cross the antimeridian list their rows from their
    # own runs, whose order is not the tile's (the other loops do not depend on the order)
    own = wraps | t_wraps[tile]
    member = np.argsort(tile, kind="stable")
    first_member = np.searchsorted(tile[member], np.arange(n_tiles + 1))
    first_run = np.searchsorted(owner, np.arange(n_tiles + 1))
    site_arrays = tuple(
        np.ascontiguousarray(a[member]) for a in (*index._g, *index._u, index._sin2_all)
    )
    # the centre of each tile's sites (a point, not a direction), and each site's distance
    # from it with a margin far above rounding (1 m): a lower bound of slant ranges in the loop
    count = np.maximum(np.bincount(tile, minlength=n_tiles), 1)
    mean = [
        np.bincount(tile, index.site_ecef_km[:, j], minlength=n_tiles) / count for j in range(3)
    ]
    off = index.site_ecef_km - np.stack(mean, 1)[tile]
    reach = np.sqrt((off**2).sum(axis=1)) * (1 + 1e-9) + 1e-3
    # largest slant range at the mask (sites at their own radius, satellites at the planned one)
    e = np.radians(index.min_elevation_deg)
    r_sat = index.sat_radius_km
    slant = -rg * np.sin(e) + np.sqrt(np.maximum(r_sat**2 - (rg * np.cos(e)) ** 2, 0.0))
    inner = np.full(n_tiles, np.inf)
    np.minimum.at(inner, tile, 0.9 * slant - reach)
    return Tiles(
        member, first_member, first_run, lo, hi, np.flatnonzero(own), ~own[member], site_arrays,
        tuple(np.ascontiguousarray(m) for m in mean), np.ascontiguousarray(reach[member]), inner,
        np.searchsorted(c_owner, np.arange(n_tiles + 1)), c_lo, c_hi,
    )  # fmt: skip


def _site_args(index: Any, max_range_km: float | None, tiled: bool) -> tuple[Any, ...]:
    """Site-side arguments of the loops (in tile order for the tile loops)."""
    max_range2 = np.inf if max_range_km is None else float(max_range_km) ** 2
    if tiled:
        return (*index._tiles.site_arrays, index._check_zero, max_range2)
    return (*index._g, *index._u, index._sin2_all, index._check_zero, max_range2)


def _own_args(index: Any, srt: Any) -> tuple[Any, ...]:
    _, run_lo, run_hi, _ = index._runs
    return (index._tiles.own, *srt.xyz, srt.cell_start, index._first_run, run_lo, run_hi)


def _tile_args(index: Any, srt: Any) -> tuple[Any, ...]:
    """``(first_member, first_run, run_lo, run_hi, cell_start, sx, sy, sz)``: where the tile
    loops find each tile's sites and candidates this step."""
    tiles = index._tiles
    return (
        tiles.first_member,
        tiles.first_run,
        tiles.run_lo,
        tiles.run_hi,
        srt.cell_start,
        *srt.xyz,
    )


def any_visible(index: Any, srt: Any) -> np.ndarray:
    """See ``SiteIndex.any_visible``."""
    out = np.zeros(len(index), bool)
    if srt is not None:
        tiles = index._tiles
        kernels().tile_any(
            *_tile_args(index, srt), tiles.first_core_run, tiles.core_lo, tiles.core_hi,
            *tiles.centre_km, *_site_args(index, None, True), tiles.member, out,
        )  # fmt: skip
    return out


def best_per_site(
    index: Any,
    srt: Any,
    todo: np.ndarray,
    source: np.ndarray,
    dist: np.ndarray,
    out_slot: np.ndarray,
    out_cost: np.ndarray,
) -> None:
    """See ``SiteIndex.best_per_site``."""
    todo = np.asarray(todo, bool)
    if srt is None:
        out_slot[todo] = -1
        out_cost[todo] = np.inf
        return
    src = np.where(todo, np.asarray(source, np.int64), -1)
    slot, cost = np.empty(len(index), np.int64), np.empty(len(index))
    best_sites(index, srt, src, np.ones(len(dist), bool), dist_by_slot(srt, dist), slot, cost)
    out_slot[todo] = slot[todo]
    out_cost[todo] = cost[todo]


def dist_by_slot(srt: Any, dist: np.ndarray) -> np.ndarray:
    """Each source's distances by sorted slot (the loops read a tile's runs in sequence)."""
    return np.ascontiguousarray(np.take(dist, srt.sat_id, axis=1))


def best_sites(
    index: Any,
    srt: Any,
    source: np.ndarray,
    todo_source: np.ndarray,
    by_slot: np.ndarray,
    out_slot: np.ndarray,
    out_cost: np.ndarray,
    source_q: np.ndarray | None = None,
) -> np.ndarray:
    """``SiteIndex.best_per_site`` for every site whose source ``k = source[i]`` has
    ``todo_source[k]``: its best sorted slot and cost into ``out_slot[i]``, ``out_cost[i]``;
    slot ``-1`` and cost ``inf`` where ``source[i]`` is ``-1``; the other sites are left as
    they are. ``by_slot`` from :func:`dist_by_slot`. The loop runs in member order
    (``index._tiles.member``): ``source`` is gathered into it (``source_q``, returned, may be
    passed back for the same ``source``) and the results scattered back, each in one
    compiled pass."""
    k = kernels()
    tiles = index._tiles
    member = tiles.member
    if source_q is None:
        source_q = np.empty(len(member), np.int64)
        k.to_members(member, source, source_q)
    slot_q, cost_q = np.empty(len(member), np.int64), np.empty(len(member))
    tied = np.empty(len(member), np.int64)
    n_tied = k.tile_best(
        *_tile_args(index, srt), *tiles.centre_km, *_site_args(index, None, True),
        tiles.reach_km, tiles.inner_km, source_q, todo_source, by_slot, slot_q, cost_q, tied,
    )  # fmt: skip
    if n_tied:  # equal smallest costs: the first in row order, from the site's own runs
        _, run_lo, run_hi, _ = index._runs
        k.run_best(
            tied[:n_tied], member, *srt.xyz, srt.cell_start, index._first_run, run_lo, run_hi,
            *_site_args(index, None, False), source_q, by_slot, slot_q, cost_q,
        )  # fmt: skip
    k.from_members(member, source_q, todo_source, slot_q, cost_q, out_slot, out_cost)
    return source_q


def count_per_site(index: Any, srt: Any, max_range_km: float | None = None) -> np.ndarray:
    """(N,) number of visible satellites of each site of a ``SiteIndex`` (no pair listed)."""
    member = index._tiles.member
    count_q = np.zeros(len(member), np.int64)  # in member order, as the loop goes
    kernels().tile_count(*_tile_args(index, srt), *_site_args(index, max_range_km, True), count_q)
    count = np.zeros(len(index), np.int64)
    count[member] = count_q
    return count


def pair_dot_range(
    index: Any, srt: Any, site: np.ndarray, slot: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(dot, range)`` of given (site, sorted slot) pairs (``dot / range`` is the sine of the
    elevation), computed as the loops compute them."""
    site = np.ascontiguousarray(site, dtype=np.int64)
    slot = np.ascontiguousarray(slot, dtype=np.int64)
    dot, rng = np.empty(len(site)), np.empty(len(site))
    kernels().pair_dot_range(site, slot, *srt.xyz, *index._g, *index._u, dot, rng)
    return dot, rng


def pair_arrays(
    index: Any, srt: Any, max_range_km: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every visible pair as ``(site, sorted slot, dot, range)``, grouped by site in
    ``SiteIndex.visible_pairs`` row order (``dot / range`` is the sine of the elevation)."""
    k = kernels()
    targs, args = _site_args(index, max_range_km, True), _site_args(index, max_range_km, False)
    own = _own_args(index, srt)
    count = count_per_site(index, srt, max_range_km)
    offset = np.zeros(len(index) + 1, np.int64)
    np.cumsum(count, out=offset[1:])
    total = int(offset[-1])
    site = np.empty(total, np.int64)
    out_slot = np.empty(total, np.int64)
    dot = np.empty(total)
    rng = np.empty(total)
    tiles = index._tiles
    k.tile_fill(
        *_tile_args(index, srt), tiles.member, *targs, tiles.ordered, offset, site, out_slot,
        dot, rng,
    )  # fmt: skip
    k.run_fill(*own, *args, offset, site, out_slot, dot, rng)
    return site, out_slot, dot, rng
