"""The search helpers against plain Python loops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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
