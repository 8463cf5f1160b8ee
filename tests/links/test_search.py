"""The search helpers against plain Python loops, and the compiled Dijkstra against scipy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from skyfence.links import compiled
from skyfence.links.search import argmin_per_group


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 6), max_size=40),
    st.lists(st.sampled_from([0.0, 1.0, 2.0, np.inf, np.nan]), min_size=40, max_size=40),
)
def test_argmin_per_group_equals_a_loop(groups, values):
    """Smallest score per group of contiguous rows, first on ties, -1 for groups without rows,
    the group's first row when a score is NaN (its minimum is NaN); the same with precomputed
    group starts."""
    group = np.asarray(sorted(groups), dtype=np.int64)
    score = np.asarray(values[: len(group)], dtype=np.float64)
    n = 8
    expected = np.full(n, -1, np.int64)
    for g in range(n):
        rows = np.flatnonzero(group == g)
        if len(rows) == 0:
            continue
        if any(np.isnan(score[r]) for r in rows):
            expected[g] = rows[0]
            continue
        best = min(score[r] for r in rows)
        expected[g] = next(r for r in rows if score[r] == best)
    assert argmin_per_group(group, score, n).tolist() == expected.tolist()
    if len(group):
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        assert argmin_per_group(group, score, n, starts).tolist() == expected.tolist()


@pytest.mark.skipif(not compiled.available(), reason="the compiled search needs numba")
@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 40),
    n_edges=st.integers(0, 200),
    integer=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_compiled_dijkstra_is_scipys_step_for_step(n, n_edges, integer, seed):
    """The compiled searches give scipy's distances and predecessors exactly, bounded or not,
    also on graphs full of ties (small integer weights, zero-length edges, parallel edges)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 4, n_edges).astype(float) if integer else rng.uniform(0, 3, n_edges)
    g = coo_matrix((w, (rng.integers(0, n, n_edges), rng.integers(0, n, n_edges))), shape=(n, n))
    g = g.tocsr()
    k = 5
    nodes = rng.integers(0, n, k)
    limits = rng.choice([np.inf, 0.0, 1.0, 2.5, 4.0], k)
    dist = np.full((k + 1, n), -1.0)  # rows written over whatever they held; row k untouched
    pred = np.full((k + 1, n), 7, np.int32)
    compiled.kernels().dijkstra_rows(
        g.indptr, g.indices, g.data, np.arange(k), nodes, limits, dist, pred
    )
    for i in range(k):
        d, p = dijkstra(g, directed=True, indices=int(nodes[i]), return_predecessors=True,
                        limit=limits[i])  # fmt: skip
        assert np.array_equal(dist[i], d)
        assert np.array_equal(pred[i], p)
    assert np.all(dist[k] == -1.0) and np.all(pred[k] == 7)


@pytest.mark.skipif(not compiled.available(), reason="the compiled CSR builder needs numba")
@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 50), n_edges=st.integers(0, 300), twice=st.booleans(),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_csr_arrays_are_scipys(n, n_edges, twice, seed):
    """The step graph's CSR arrays are scipy's ``coo_matrix(...).tocsr()`` arrays exactly
    (edges in any order); with an edge listed twice the builder declines (scipy sums)."""
    rng = np.random.default_rng(seed)
    key = rng.choice(n * n, min(n_edges, n * n), replace=False)
    if twice and len(key):
        key = np.r_[key, rng.choice(key, 1)]
        rng.shuffle(key)
    rows, cols = key // n, key % n
    w = rng.integers(0, 4, len(key)).astype(float)
    got = compiled.csr_arrays(n, rows, cols, w)
    if twice and len(key):
        assert got is None
        return
    g = coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    assert got is not None
    for a, b in zip(got, (g.indptr, g.indices, g.data), strict=True):
        assert np.array_equal(a, b) and a.dtype == b.dtype
