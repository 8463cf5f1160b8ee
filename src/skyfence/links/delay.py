"""Scheduling delay: what a terminal's RTT adds to the geometry in each 15-s slot.

Measured Starlink RTTs sit well above the propagation delay, and not by a constant: the
network reassigns satellites to terminals every 15 s (Tanveer et al. 2023; Mohan et al., WWW
2024) and, within a slot, the dish waits for its uplink grant and its packets for their
downlink frame (MAC scheduling, queues). skyfence models this as one random delay per slot,
drawn from a **log-normal** distribution given by its median and its log-space spread:

``delay_ms = scheduling_median_ms * exp(sigma * Z)``, ``Z ~ N(0, 1)``

so the delay is never negative, is right-skewed as measured queueing delays are, and has
``p80 / p50 = p50 / p20 = exp(0.8416 * sigma)``. A slot's RTT is the geometric RTT of its
path, a fixed processing overhead and the slot's delay. A terminal's RTT over a window is the
**mixture** over its slots: the ``p``-quantile ``x`` solves ``mean_s F(x - g_s) = p``, where
``g_s`` is the slot's RTT without the scheduling delay and ``F`` the delay's distribution
function. :func:`mixture_quantiles` solves that exactly (bisection on the monotone mixture),
so the percentiles are deterministic — no random draws.

Starlink's published metrics rank percentiles by performance: its ``latency_p20`` ("worse
20 %") is the 80th percentile of RTT, its ``latency_p80`` the 20th. skyfence names
percentiles the usual way (``p80`` = the slower end) and says so wherever it prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from skyfence.errors import InputError

__all__ = ["SchedulingDelay", "mixture_quantiles"]


@dataclass(frozen=True)
class SchedulingDelay:
    """A per-slot delay with a log-normal distribution (see the module docs).

    Parameters
    ----------
    median_ms : float
        Median delay per slot, ms (0 = no scheduling delay).
    sigma : float
        Spread in log space (0 = the same delay in every slot).

    Examples
    --------
    >>> d = SchedulingDelay(10.0, 0.5)
    >>> round(float(d.quantile_ms(0.5)), 6)
    10.0
    >>> round(float(d.quantile_ms(0.8) / d.quantile_ms(0.5)), 4)  # exp(0.8416 * 0.5)
    1.5232
    """

    median_ms: float = 0.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.median_ms) and self.median_ms >= 0.0):
            raise InputError(f"scheduling median_ms must be >= 0, got {self.median_ms}")
        if not (np.isfinite(self.sigma) and 0.0 <= self.sigma <= 5.0):
            raise InputError(f"scheduling sigma must be within 0..5, got {self.sigma}")

    @property
    def is_zero(self) -> bool:
        """True when the delay is 0 in every slot."""
        return self.median_ms == 0.0

    @property
    def is_constant(self) -> bool:
        """True when every slot gets the same delay (the median)."""
        return self.median_ms == 0.0 or self.sigma == 0.0

    def quantile_ms(self, p: np.ndarray | float) -> np.ndarray:
        """The ``p``-quantile of the delay, ms (``p`` in (0, 1))."""
        p = np.asarray(p, dtype=np.float64)
        if np.any((p <= 0.0) | (p >= 1.0)):
            raise InputError("quantile levels must be within (0, 1), e.g. 0.2, 0.5, 0.8")
        if self.is_constant:
            return np.full(p.shape, self.median_ms)
        return self.median_ms * np.exp(self.sigma * ndtri(p))

    def cdf(self, delay_ms: np.ndarray | float) -> np.ndarray:
        """P(delay <= ``delay_ms``)."""
        x = np.asarray(delay_ms, dtype=np.float64)
        if self.is_constant:
            return (x >= self.median_ms).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(np.maximum(x, 0.0) / self.median_ms) / self.sigma
        return np.where(x > 0.0, ndtr(z), 0.0)


def mixture_quantiles(
    base_ms: np.ndarray,
    delay: SchedulingDelay,
    levels: np.ndarray | list[float] | tuple[float, ...],
    *,
    weights: np.ndarray | None = None,
    tolerance_ms: float = 1e-6,
) -> np.ndarray:
    """Quantiles of ``base + delay`` over the slots of each row.

    Parameters
    ----------
    base_ms : (N, T) array
        Per row (a terminal, or a group of places) and slot: the RTT without the scheduling
        delay; NaN = no route in that slot (left out).
    delay : SchedulingDelay
    levels : sequence of float
        Quantile levels in (0, 1), e.g. ``(0.2, 0.5, 0.8)``.
    weights : (N, T) array, optional
        Weight of each slot (default equal); rows are normalised.

    Returns
    -------
    (N, len(levels)) array
        NaN for a row without any routed slot.

    Examples
    --------
    Two slots at 20 and 30 ms and a constant delay of 5 ms: the median of the mixture is the
    lower slot's value (the quantile is the smallest value with at least half the mass).

    >>> mixture_quantiles(np.array([[20.0, 30.0]]), SchedulingDelay(5.0, 0.0), [0.5])
    array([[25.]])
    """
    base = np.atleast_2d(np.asarray(base_ms, dtype=np.float64))
    ps = np.asarray(levels, dtype=np.float64).reshape(-1)
    if np.any((ps <= 0.0) | (ps >= 1.0)):
        raise InputError("quantile levels must be within (0, 1), e.g. 0.2, 0.5, 0.8")
    ok = np.isfinite(base)
    w = np.ones_like(base) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != base.shape:
        raise InputError(f"weights {w.shape} must have the shape of base_ms {base.shape}")
    w = np.where(ok, w, 0.0)
    total = w.sum(axis=1)
    out = np.full((base.shape[0], len(ps)), np.nan)
    rows = np.flatnonzero(total > 0)
    if len(rows) == 0:
        return out
    b, w = np.where(ok[rows], base[rows], 0.0), w[rows] / total[rows, None]
    if delay.is_constant:
        return _weighted_quantiles(out, rows, b, w, ps, delay.median_ms)
    # bracket: every slot's value lies within [min base + q(eps), max base + q(1 - eps)]
    lo_d, hi_d = delay.quantile_ms(np.array([1e-9, 1.0 - 1e-9]))
    lo = np.where(w > 0, b, np.inf).min(axis=1) + lo_d
    hi = np.where(w > 0, b, -np.inf).max(axis=1) + hi_d
    lo = np.repeat(lo[:, None], len(ps), axis=1)
    hi = np.repeat(hi[:, None], len(ps), axis=1)
    while np.max(hi - lo) > tolerance_ms:
        mid = 0.5 * (lo + hi)
        mass = np.einsum("nt,ntk->nk", w, delay.cdf(mid[:, None, :] - b[:, :, None]))
        below = mass < ps[None, :]
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out[rows] = 0.5 * (lo + hi)
    return out


def _weighted_quantiles(
    out: np.ndarray, rows: np.ndarray, b: np.ndarray, w: np.ndarray, ps: np.ndarray, shift: float
) -> np.ndarray:
    """Quantiles of a discrete weighted distribution (a constant delay): the smallest value
    whose cumulative weight reaches ``p`` (ties within 1e-12 of ``p`` count as reached)."""
    order = np.argsort(np.where(w > 0, b, np.inf), axis=1, kind="stable")
    bs = np.take_along_axis(b, order, axis=1)
    cw = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
    for k, p in enumerate(ps):
        first = np.argmax(cw >= p - 1e-12, axis=1)
        out[rows, k] = bs[np.arange(len(rows)), first] + shift
    return out
