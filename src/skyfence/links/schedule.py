"""The 15-second schedule: terminals keep a serving satellite for a slot, then may be handed over.

Starlink reassigns satellites to terminals on a global 15-second schedule (Tanveer et al. 2023;
Mohan et al., WWW 2024). Here each ephemeris time step is one slot: at the start of every slot
each terminal gets a serving satellite by a documented rule, and the gateway, PoP and RTT of
that choice are evaluated at the slot start.

Rules
-----
``max-elevation`` (default)
    The satellite with the highest elevation among those with a route to the home PoP.
``longest-visible``
    The satellite that stays above the mask for the most following slots (look-ahead up to
    ``lookahead_slots``), ties broken by elevation; fewer handovers, lower elevations.
``min-rtt``
    The satellite giving the lowest RTT at the slot start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from skyfence.errors import InputError
from skyfence.ground.sites import GroundSites
from skyfence.links.routing import LandingConstraint, NetworkModel
from skyfence.links.visibility import VisiblePairs

__all__ = ["RULES", "Schedule", "run_schedule"]

RULES = ("max-elevation", "longest-visible", "min-rtt")


@dataclass(frozen=True)
class Schedule:
    """Per terminal and slot: arrays ``(N, T)``; ``-1`` / NaN where a terminal has no route.

    Attributes
    ----------
    times : (T,) datetime64[ns]
        Slot starts.
    serving_sat, gateway, pop, isl_hops : (N, T) int64
    rtt_ms, elevation_deg : (N, T) float64
    slot_s : float
    rule : str
    """

    times: np.ndarray
    serving_sat: np.ndarray
    gateway: np.ndarray
    pop: np.ndarray
    isl_hops: np.ndarray
    rtt_ms: np.ndarray
    elevation_deg: np.ndarray
    slot_s: float
    rule: str

    @property
    def handovers(self) -> np.ndarray:
        """(N,) number of slot boundaries where the serving satellite changed (both slots served)."""
        a, b = self.serving_sat[:, :-1], self.serving_sat[:, 1:]
        return np.sum((a >= 0) & (b >= 0) & (a != b), axis=1)

    @property
    def handovers_per_hour(self) -> np.ndarray:
        """(N,) handovers per hour of schedule (``T - 1`` slot boundaries)."""
        hours = max(self.serving_sat.shape[1] - 1, 1) * self.slot_s / 3600.0
        return self.handovers / hours

    @property
    def median_rtt_ms(self) -> np.ndarray:
        """(N,) median RTT over the slots with a route (NaN if none)."""
        out = np.full(self.rtt_ms.shape[0], np.nan)
        ok = np.isfinite(self.rtt_ms).any(axis=1)
        out[ok] = np.nanmedian(self.rtt_ms[ok], axis=1)
        return out


def _run_lengths(vis_list: list[VisiblePairs], n_sats: int, cap: int) -> list[np.ndarray]:
    """For each step's pairs, how many consecutive steps (itself included, up to ``cap``) the pair
    stays visible."""
    out: list[np.ndarray] = [np.zeros(0)] * len(vis_list)
    nxt_keys = np.zeros(0, np.int64)
    nxt_run = np.zeros(0, np.int64)
    for i in range(len(vis_list) - 1, -1, -1):
        v = vis_list[i]
        keys = v.site.astype(np.int64) * n_sats + v.sat
        run = np.ones(len(keys), np.int64)
        if len(nxt_keys):
            pos = np.searchsorted(nxt_keys, keys)
            pos_c = np.minimum(pos, len(nxt_keys) - 1)
            hit = nxt_keys[pos_c] == keys
            run[hit] += nxt_run[pos_c[hit]]
        run = np.minimum(run, cap)
        order = np.argsort(keys)
        nxt_keys, nxt_run = keys[order], run[order]
        out[i] = run
    return out


def run_schedule(
    model: NetworkModel,
    eph: Any,
    terminals: GroundSites,
    *,
    rule: str = "max-elevation",
    slot_s: float | None = None,
    constraint: LandingConstraint | None = None,
    lookahead_slots: int = 40,
    block_slots: int = 240,
    progress: Callable[[int, int], None] | None = None,
) -> Schedule:
    """Assign serving satellites slot by slot over every time of ``eph``.

    Parameters
    ----------
    model : NetworkModel
    eph : Ephemeris
        Times one slot apart (use ``time_grid(start, duration_s, 15.0)``).
    terminals : GroundSites
    rule : {"max-elevation", "longest-visible", "min-rtt"}
    slot_s : float, optional
        Slot length; defaults to the ephemeris spacing, and must equal it when given.
    constraint : LandingConstraint, optional
    lookahead_slots, block_slots : int
        For ``longest-visible``: how far to look ahead, and how many slots to do per block.
    progress : callable, optional
        ``(done, total)``.
    """
    if rule not in RULES:
        raise InputError(f"schedule rule {rule!r} is not one of {', '.join(RULES)}")
    times = np.asarray(eph.times, dtype="datetime64[ns]")
    T = len(times)
    if T == 0:
        raise InputError("the ephemeris has no times")
    if T > 1:
        spacing = np.diff(times).astype(np.int64) / 1e9
        if np.ptp(spacing) > 1e-3:
            raise InputError("schedule times must be evenly spaced, one slot apart")
        step = float(spacing[0])
        if slot_s is not None and abs(step - slot_s) > 1e-3:
            raise InputError(
                f"ephemeris spacing is {step:g} s but the slot is {slot_s:g} s; propagate on "
                f"time_grid(start, duration_s, {slot_s:g})"
            )
        slot = step
    else:
        slot = 15.0 if slot_s is None else float(slot_s)
    N = len(terminals)
    shape = (N, T)
    sat = np.full(shape, -1, np.int64)
    gw = np.full(shape, -1, np.int64)
    pop = np.full(shape, -1, np.int64)
    hops = np.full(shape, -1, np.int64)
    rtt = np.full(shape, np.nan)
    elev = np.full(shape, np.nan)
    home = model.home_pops(terminals, constraint)
    pos_all = eph.positions_ecef_km
    block = max(int(block_slots), 1)
    for b0 in range(0, T, block):
        b1 = min(b0 + block, T)
        runs: list[np.ndarray] | None = None
        vis_list: list[VisiblePairs] | None = None
        if rule == "longest-visible":
            end = min(b1 + lookahead_slots, T)
            vis_list = [
                model.terminal_visibility(np.asarray(pos_all[:, i, :], dtype=np.float64), terminals)
                for i in range(b0, end)
            ]
            runs = _run_lengths(vis_list, model.n_sats, lookahead_slots)
        for i in range(b0, b1):
            kw: dict[str, Any] = {}
            if rule == "longest-visible":
                assert vis_list is not None and runs is not None
                run_i = runs[i - b0]
                kw["visible"] = vis_list[i - b0]
                kw["pair_score"] = lambda v, cost, r=run_i: -(r * 1000.0) - v.elevation_deg
            selection = "min-rtt" if rule == "min-rtt" else "max-elevation"
            res = model.step(
                eph, i, terminals, constraint=constraint, home_pop=home, selection=selection, **kw
            )
            sat[:, i] = res.serving_sat
            gw[:, i] = res.gateway
            pop[:, i] = res.pop
            hops[:, i] = res.isl_hops
            rtt[:, i] = res.rtt_ms
            elev[:, i] = res.elevation_deg
            if progress is not None:
                progress(i + 1, T)
    return Schedule(times, sat, gw, pop, hops, rtt, elev, slot, rule)
