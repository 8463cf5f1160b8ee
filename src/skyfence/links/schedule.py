"""The 15-second schedule: terminals keep a serving satellite for a slot, then may be handed over.

Starlink reassigns satellites to terminals on a global 15-second schedule (Tanveer et al. 2023;
Mohan et al., WWW 2024). Here each ephemeris time step is one slot: at the start of every slot
each terminal gets a serving satellite by a documented rule, and the gateway, PoP and RTT of
that choice are evaluated at the slot start.

Rules
-----
``max-elevation``
    The satellite with the highest elevation among those with a route to the home PoP.
``longest-visible``
    The satellite that stays above the mask for the most following slots (look-ahead up to
    ``lookahead_slots``), ties broken by elevation. The rule is evaluated afresh at every
    slot, so a satellite that has just risen (and will stay longest) takes over: in a
    sparse shell that means fewer handovers than ``max-elevation``, in a dense one such as
    Starlink Gen1 more (median 103 against 85 per hour for 1,000 terminals).
``min-rtt`` (default, :data:`DEFAULT_RULE`)
    The satellite giving the lowest RTT at the slot start.

Every command and analysis uses :data:`DEFAULT_RULE` unless told otherwise, so one place and
time gives one RTT whichever command asks. ``min-rtt`` is the default because it is the rule
that answers the question the RTT figures are about — the latency the network can give a place
— without depending on how one scheduler breaks ties; the other rules are there to study
handovers.
"""

from __future__ import annotations

import mmap
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from skyfence.errors import InputError
from skyfence.ground.sites import GroundSites
from skyfence.links.homing import LandingConstraint
from skyfence.links.routing import NetworkModel
from skyfence.links.visibility import VisiblePairs

__all__ = ["DEFAULT_RULE", "RULES", "Schedule", "run_schedule"]

RULES = ("max-elevation", "longest-visible", "min-rtt")
DEFAULT_RULE = "min-rtt"
"""The satellite-selection rule every command uses unless told otherwise."""


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
    rule: str = DEFAULT_RULE,
    slot_s: float | None = None,
    constraint: LandingConstraint | None = None,
    lookahead_slots: int = 40,
    block_slots: int = 240,
    workers: int = 1,
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
    workers : int
        Processes to split the slots over (each takes a contiguous run of slots; the result
        is identical to ``workers=1``). Needs ``fork`` (Linux, macOS); elsewhere the work runs
        in this process.
    progress : callable, optional
        ``(done, total)``.
    """
    if rule not in RULES:
        raise InputError(f"schedule rule {rule!r} is not one of {', '.join(RULES)}")
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a positive whole number, got {workers!r}")
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
    workers = int(min(workers, T))
    if workers > 1 and "fork" not in multiprocessing.get_all_start_methods():
        workers = 1
    N = len(terminals)
    out = _Outputs(N, T, shared=workers > 1)
    home = model.home_pops(terminals, constraint)
    job = _Job(model, eph, terminals, rule, constraint, home, lookahead_slots, block_slots, out)
    try:
        if workers == 1:
            job.fill(0, T, progress)
        else:
            _run_forked(job, T, workers, progress)
        return Schedule(
            times,
            out.sat.copy(),
            out.gw.copy(),
            out.pop.copy(),
            out.hops.copy(),
            out.rtt.copy(),
            out.elev.copy(),
            slot,
            rule,
        )
    finally:
        out.close()


class _Outputs:
    """The (N, T) result arrays; in shared memory when forked workers fill them."""

    _SPECS = (
        ("sat", np.int64, -1),
        ("gw", np.int64, -1),
        ("pop", np.int64, -1),
        ("hops", np.int64, -1),
        ("rtt", np.float64, np.nan),
        ("elev", np.float64, np.nan),
    )

    def __init__(self, n: int, t: int, shared: bool) -> None:
        self._maps: list[mmap.mmap] = []
        for name, dtype, fill in self._SPECS:
            if shared:
                buf = mmap.mmap(-1, max(1, n * t * np.dtype(dtype).itemsize))
                self._maps.append(buf)
                arr = np.frombuffer(buf, dtype=dtype, count=n * t).reshape(n, t)
                arr[...] = fill
            else:
                arr = np.full((n, t), fill, dtype=dtype)
            setattr(self, name, arr)

    sat: np.ndarray
    gw: np.ndarray
    pop: np.ndarray
    hops: np.ndarray
    rtt: np.ndarray
    elev: np.ndarray

    def close(self) -> None:
        for name, _dtype, _fill in self._SPECS:
            setattr(self, name, None)
        for buf in self._maps:
            try:
                buf.close()
            except BufferError:  # a view is still alive; the map is freed with it
                pass


@dataclass
class _Job:
    model: NetworkModel
    eph: Any
    terminals: GroundSites
    rule: str
    constraint: LandingConstraint | None
    home: np.ndarray
    lookahead_slots: int
    block_slots: int
    out: _Outputs

    def fill(self, first: int, last: int, progress: Callable[[int, int], None] | None) -> None:
        """Compute slots ``first`` to ``last - 1`` into the outputs; ``progress(done, total)``
        counts this range's slots."""
        model, eph, terminals, out = self.model, self.eph, self.terminals, self.out
        T = len(eph.times)
        pos_all = eph.positions_ecef_km
        block = max(int(self.block_slots), 1)
        selection = "min-rtt" if self.rule == "min-rtt" else "max-elevation"
        for b0 in range(first, last, block):
            b1 = min(b0 + block, last)
            runs: list[np.ndarray] | None = None
            vis_list: list[VisiblePairs] | None = None
            if self.rule == "longest-visible":
                end = min(b1 + self.lookahead_slots, T)
                vis_list = [
                    model.terminal_visibility(
                        np.asarray(pos_all[:, i, :], dtype=np.float64), terminals
                    )
                    for i in range(b0, end)
                ]
                runs = _run_lengths(vis_list, model.n_sats, self.lookahead_slots)
            for i in range(b0, b1):
                kw: dict[str, Any] = {}
                if vis_list is not None and runs is not None:
                    vis_i = vis_list[i - b0]
                    kw["visible"] = vis_i
                    kw["pair_rank"] = -(runs[i - b0] * 1000.0) - vis_i.elevation_deg
                res = model.step(
                    eph,
                    i,
                    terminals,
                    constraint=self.constraint,
                    home_pop=self.home,
                    selection=selection,
                    **kw,
                )
                out.sat[:, i] = res.serving_sat
                out.gw[:, i] = res.gateway
                out.pop[:, i] = res.pop
                out.hops[:, i] = res.isl_hops
                out.rtt[:, i] = res.rtt_ms
                out.elev[:, i] = res.elevation_deg
                if progress is not None:
                    progress(i + 1 - first, last - first)


def _worker(conn: Any, job: _Job, first: int, last: int) -> None:
    """Body of a forked worker: fill its slots, report progress, then ``("done", None)``."""
    try:
        job.fill(first, last, lambda done, total: conn.send(("progress", 1)))
        conn.send(("done", None))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent
        try:
            conn.send(("error", exc))
        except Exception:  # noqa: BLE001 - not picklable
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def _run_forked(
    job: _Job, total: int, workers: int, progress: Callable[[int, int], None] | None
) -> None:
    """Split the slots into ``workers`` contiguous runs, one forked process each."""
    ctx = multiprocessing.get_context("fork")
    bounds = np.linspace(0, total, workers + 1).round().astype(int)
    procs, conns = [], []
    try:
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            parent, child = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_worker, args=(child, job, int(a), int(b)), daemon=True)
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        done = 0
        if progress is not None:
            progress(0, total)
        waiting = list(conns)
        while waiting:
            for conn in wait(waiting):
                try:
                    kind, value = conn.recv()  # type: ignore[union-attr]
                except EOFError:
                    raise RuntimeError("a schedule worker stopped without a result") from None
                if kind == "progress":
                    done += value
                    if progress is not None:
                        progress(done, total)
                elif kind == "done":
                    waiting.remove(conn)
                else:
                    raise value
    finally:
        for proc in procs:
            proc.join(timeout=5)  # finished workers exit at once; a failed run stops the rest
            if proc.is_alive():
                proc.terminate()
                proc.join()
        for conn in conns:
            conn.close()
