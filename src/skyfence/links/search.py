"""Shortest-path machinery of a network step: Dijkstra from virtual PoP sources, which satellites a
source can reach at all, and the smallest score per terminal.

All of it works on the step's graph in node numbers ``0 .. S-1`` (satellites), ``S .. S+G-1``
(gateways) and ``S+G ..`` (one virtual source per landing class and PoP), built by
:mod:`skyfence.links.routing`.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from skyfence.links import compiled
from skyfence.links.visibility import VisiblePairs

__all__ = ["PopSearch", "argmin_per_group", "reachable_pairs", "shortest_ground_path"]


def shortest_ground_path(
    n_sats: int,
    edges: np.ndarray,
    length_km: np.ndarray,
    up_sats: np.ndarray,
    up_km: np.ndarray,
    down_sats: np.ndarray,
    down_km: np.ndarray,
) -> tuple[float, list[int]]:
    """Shortest ground-to-ground path over the laser mesh: up to one of ``up_sats`` (slant
    ranges ``up_km``), across ``edges`` (E, 2) of ``length_km``, down from one of ``down_sats``.

    Returns ``(one-way length km, satellites in order)``; ``(nan, [])`` when unreachable.
    """
    S = n_sats
    rows = np.concatenate([edges[:, 0], edges[:, 1], np.full(len(up_sats), S)])
    cols = np.concatenate([edges[:, 1], edges[:, 0], up_sats])
    w = np.concatenate([length_km, length_km, up_km])
    graph = coo_matrix((w, (rows, cols)), shape=(S + 1, S + 1)).tocsr()
    dist, pred = dijkstra(graph, directed=True, indices=S, return_predecessors=True)
    if len(down_sats) == 0:
        return float("nan"), []
    total = dist[down_sats] + down_km
    j = int(np.argmin(total))
    if not np.isfinite(total[j]):
        return float("nan"), []
    sats = [int(down_sats[j])]
    while True:
        p = int(pred[sats[-1]])
        if p < 0 or p >= S:
            break
        sats.append(p)
    sats.reverse()
    return float(total[j]), sats


class PopSearch:
    """Dijkstra from virtual PoP sources over the step's graph (or part of it), writing the
    distances and predecessors (in full-graph node numbers) into rows of ``dist`` / ``pred``."""

    def __init__(
        self,
        n_sats: int,
        n_gateways: int,
        n_nodes: int,
        rows: np.ndarray,
        cols: np.ndarray,
        wts: np.ndarray,
        dist: np.ndarray,
        pred: np.ndarray,
        nodes: np.ndarray | None = None,
    ) -> None:
        self.S, self.G, self.n_nodes = n_sats, n_gateways, n_nodes
        self.rows, self.cols, self.wts = rows, cols, wts
        self.dist, self.pred = dist, pred
        self.nodes = nodes  # full-graph numbers of this graph's nodes (None = all)
        if nodes is None:
            arrays = compiled.csr_arrays(n_nodes, rows, cols, wts) if compiled.available() else None
            self.graph = (
                csr_matrix(arrays[::-1], shape=(n_nodes, n_nodes))
                if arrays is not None
                else coo_matrix((wts, (rows, cols)), shape=(n_nodes, n_nodes)).tocsr()
            )
            self.local = None
        else:
            local = np.full(n_nodes, -1, np.int64)
            local[nodes] = np.arange(len(nodes))
            keep = (local[rows] >= 0) & (local[cols] >= 0)
            m = len(nodes)
            self.graph = coo_matrix(
                (wts[keep], (local[rows[keep]], local[cols[keep]])), shape=(m, m)
            ).tocsr()
            self.local = local

    def restricted(self, sats: np.ndarray, sources: np.ndarray) -> PopSearch:
        """The subgraph of the satellites where ``sats`` (S,) is true, every gateway and the
        given virtual sources."""
        S, G = self.S, self.G
        nodes = np.concatenate([np.flatnonzero(sats), np.arange(S, S + G), S + G + sources])
        return PopSearch(
            S, G, self.n_nodes, self.rows, self.cols, self.wts, self.dist, self.pred, nodes
        )

    def run(self, sources: np.ndarray, limit: np.ndarray | None) -> None:
        """Search from each source ``k`` (bounded by ``limit[i]``; None = unbounded).

        With numba (``pip install skyfence[fast]``) the searches of the whole graph run in one
        compiled loop (:func:`skyfence.links._loops.dijkstra_rows`, scipy's algorithm step for
        step, so the same distances and predecessors) instead of one ``dijkstra`` call each."""
        first = self.S + self.G
        sources = np.asarray(sources, dtype=np.int64)
        if self.nodes is None and compiled.available() and len(sources):
            g = self.graph
            limits = np.full(len(sources), np.inf) if limit is None else limit
            compiled.kernels().dijkstra_rows(
                g.indptr, g.indices, g.data, sources, first + sources,
                np.asarray(limits, dtype=np.float64), self.dist, self.pred,
            )  # fmt: skip
            return
        for i, k in enumerate(sources):
            node = first + k if self.local is None else self.local[first + k]
            d, p = dijkstra(
                self.graph,
                directed=True,
                indices=node,
                return_predecessors=True,
                limit=np.inf if limit is None else limit[i],
            )
            if self.nodes is None:
                self.dist[k], self.pred[k] = d, p
            else:
                self.dist[k, self.nodes] = d
                self.pred[k, self.nodes] = np.where(p >= 0, self.nodes[np.maximum(p, 0)], -9999)


def reachable_pairs(
    n_sats: int,
    edges: np.ndarray,
    gsl: VisiblePairs,
    allowed: np.ndarray,
    src_pair: np.ndarray,
    sat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Whether satellite ``sat[i]`` can be reached at all from source ``src_pair[i]``, and the
    laser-mesh component of every satellite.

    Gateways never relay, so from source ``k`` exactly the laser-mesh components holding a
    satellite seen by one of its allowed gateways (``allowed`` (K, G)) are reachable; this
    does not depend on any search bound.
    """
    if len(edges):
        mesh = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n_sats, n_sats))
        n_comp, comp = connected_components(mesh, directed=False)
    else:
        n_comp, comp = n_sats, np.arange(n_sats)
    # seen[g, c]: gateway g sees a satellite of component c (sparse: bent pipe has S components)
    seen = coo_matrix(
        (np.ones(len(gsl)), (gsl.site, comp[gsl.sat])), shape=(allowed.shape[1], n_comp)
    ).tocsr()
    reach = np.asarray(seen.T @ allowed.T.astype(np.float64)).T > 0  # (K, n_comp)
    out = np.zeros(len(src_pair), bool)
    v = src_pair >= 0
    out[v] = reach[src_pair[v], comp[sat[v]]]
    return out, comp


def argmin_per_group(
    group: np.ndarray, score: np.ndarray, n_groups: int, starts: np.ndarray | None = None
) -> np.ndarray:
    """For rows grouped (contiguous) by ``group``, the row index of the smallest score per group
    (first on ties); ``-1`` for groups without rows. Infinite scores are kept (caller checks).
    ``starts`` (first row of each group) may be passed when already known."""
    out = np.full(n_groups, -1, np.int64)
    if len(group) == 0:
        return out
    if starts is None:
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    mins = np.minimum.reduceat(score, starts)
    hit = np.flatnonzero(score == np.repeat(mins, np.diff(np.r_[starts, len(group)])))
    gid = np.searchsorted(starts, hit, side="right") - 1
    first_hit = hit[np.r_[True, gid[1:] != gid[:-1]]] if len(hit) else hit
    # groups whose min is NaN have no hit; leave them at their first row
    found = np.full(len(starts), -1, np.int64)
    found[np.searchsorted(starts, first_hit, side="right") - 1] = first_hit
    found = np.where(found < 0, starts, found)
    out[group[starts]] = found
    return out
