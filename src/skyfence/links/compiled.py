"""Compiled loops of the terminal visibility kernel (optional: ``pip install skyfence[fast]``).

:class:`~skyfence.links.visibility.SiteIndex` gives every site a few runs of grid cells, each a
contiguous slice of the satellites sorted by cell. The numpy kernel materialises every candidate
(site, satellite) pair in temporaries; the loops here walk the same candidates in the same order
with the same floating-point operations (``+``, ``-``, ``*`` and ``sqrt`` in the same order, all
correctly rounded, no fused multiply-add, no fast-math), so their decisions and numbers are bit
for bit those of the numpy kernel. Transcendental functions (the elevation's ``arcsin``) stay in
numpy so that no libm difference can enter.

Three loops, over the same candidates:

* :func:`fill` — every visible pair (site, sorted slot, dot, range);
* :func:`any_visible` — whether a site sees at least one satellite (stops at the first);
* :func:`best_per_site` — for ``min-rtt``: per site, the visible satellite with the smallest
  ``dist[source, satellite] + range`` (first on ties, in the row order of :func:`fill`), without
  materialising any pair.

``numba`` is imported on first use only; :func:`available` says whether it can be.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

__all__ = ["available", "kernels", "unavailable_reason"]


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
    """The compiled loops (compiled on first call, cached on disk by numba)."""
    from types import SimpleNamespace

    from numba import njit

    jit = njit(cache=True, nogil=True, boundscheck=False, error_model="numpy")

    @jit
    def n_candidates(first_run: Any, run_lo: Any, run_hi: Any, cell_start: Any) -> int:
        total = 0
        for r in range(first_run[-1]):
            total += cell_start[run_hi[r]] - cell_start[run_lo[r]]
        return total

    @jit
    def fill(
        sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any, run_hi: Any,
        gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
        max_range2: float, out_site: Any, out_slot: Any, out_dot: Any, out_rng: Any,
    ) -> int:  # fmt: skip
        p = 0
        for i in range(len(gx)):
            g0, g1, g2 = gx[i], gy[i], gz[i]
            u0, u1, u2 = ux[i], uy[i], uz[i]
            s2 = sin2[i]
            for r in range(first_run[i], first_run[i + 1]):
                for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                    dx = sx[j] - g0
                    dy = sy[j] - g1
                    dz = sz[j] - g2
                    dot = dx * u0
                    dot += dy * u1
                    dot += dz * u2
                    r2 = dx * dx
                    r2 += dy * dy
                    r2 += dz * dz
                    if dot * dot >= s2 * r2 and dot >= 0 and r2 <= max_range2:
                        if check_zero and not r2 > 0:
                            continue
                        out_site[p] = i
                        out_slot[p] = j
                        out_dot[p] = dot
                        out_rng[p] = np.sqrt(r2)
                        p += 1
        return p

    @jit
    def any_visible(
        sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any, run_hi: Any,
        gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
        max_range2: float, out: Any,
    ) -> None:  # fmt: skip
        for i in range(len(gx)):
            g0, g1, g2 = gx[i], gy[i], gz[i]
            u0, u1, u2 = ux[i], uy[i], uz[i]
            s2 = sin2[i]
            found = False
            for r in range(first_run[i], first_run[i + 1]):
                for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                    dx = sx[j] - g0
                    dy = sy[j] - g1
                    dz = sz[j] - g2
                    dot = dx * u0
                    dot += dy * u1
                    dot += dz * u2
                    r2 = dx * dx
                    r2 += dy * dy
                    r2 += dz * dz
                    if dot * dot >= s2 * r2 and dot >= 0 and r2 <= max_range2:
                        if check_zero and not r2 > 0:
                            continue
                        found = True
                        break
                if found:
                    break
            out[i] = found

    @jit
    def best_per_site(
        sx: Any, sy: Any, sz: Any, cell_start: Any, first_run: Any, run_lo: Any, run_hi: Any,
        gx: Any, gy: Any, gz: Any, ux: Any, uy: Any, uz: Any, sin2: Any, check_zero: bool,
        max_range2: float, sites: Any, source: Any, dist: Any, sat_id: Any,
        out_slot: Any, out_cost: Any,
    ) -> None:  # fmt: skip
        for i in sites:
            k = source[i]
            g0, g1, g2 = gx[i], gy[i], gz[i]
            u0, u1, u2 = ux[i], uy[i], uz[i]
            s2 = sin2[i]
            best = -1
            best_cost = np.inf
            for r in range(first_run[i], first_run[i + 1]):
                for j in range(cell_start[run_lo[r]], cell_start[run_hi[r]]):
                    dx = sx[j] - g0
                    dy = sy[j] - g1
                    dz = sz[j] - g2
                    dot = dx * u0
                    dot += dy * u1
                    dot += dz * u2
                    r2 = dx * dx
                    r2 += dy * dy
                    r2 += dz * dz
                    if dot * dot >= s2 * r2 and dot >= 0 and r2 <= max_range2:
                        if check_zero and not r2 > 0:
                            continue
                        c = dist[k, sat_id[j]] + np.sqrt(r2)
                        if best < 0 or c < best_cost:
                            best = j
                            best_cost = c
            out_slot[i] = best
            out_cost[i] = best_cost

    return SimpleNamespace(
        n_candidates=n_candidates, fill=fill, any_visible=any_visible, best_per_site=best_per_site
    )
