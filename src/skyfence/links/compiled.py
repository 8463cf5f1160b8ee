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
    """The compiled loops (:mod:`skyfence.links._loops`, compiled on first call and cached on
    disk by numba)."""
    from skyfence.links import _loops

    return _loops
