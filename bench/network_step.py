"""Benchmark: one time step of the full network state, and a 15-s schedule.

Gen1 preset (4,408 satellites), the real gateway and PoP lists (../shared/data), N terminals
spread uniformly over the sphere between ±60° latitude. Times are process CPU seconds
(``time.process_time``), which is steadier than wall time on a shared machine; each stage is the
median over several time steps.

Baselines, measured in the same run on the same graph (satellites + gateways, lasers and
gateway links at the first step):

* all-pairs Dijkstra (``scipy.sparse.csgraph.dijkstra`` from every node);
* dense Floyd–Warshall as Hypatia does it, on one 72x22 shell (1,584 satellites) only, because
  the full graph would take far longer.

The terminal visibility kernel is also timed alone on the same terminals and steps, the
previous exact stage (``SiteIndex._visible_pairs_reference``) beside the current one (they must
return identical rows).

Usage::

    .venv/bin/python bench/network_step.py [--terminals 10000] [--steps 5]
        [--schedule-terminals 1000] [--schedule-minutes 10] [--schedule-workers 1,2]
        [--no-baseline]

The schedule part times propagation + ``run_schedule`` (rule ``max-elevation``) in wall-clock
seconds, once per worker count (``workers=N`` for both); ``--schedule-minutes 1440`` runs the
whole 24 h instead of extrapolating from a shorter run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# bench/coverage.py would shadow the `coverage` package that numba probes for on import: load
# numba (optional, the compiled kernel) before this directory is on the path
_BENCH_DIR = sys.path.pop(0)
try:
    import numba  # noqa: F401
except ImportError:
    pass
sys.path.insert(0, _BENCH_DIR)

import numpy as np  # noqa: E402
from _common import cpu_seconds
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, floyd_warshall

from skyfence.ground import GroundSites, load_sites
from skyfence.links import NetworkModel, run_schedule
from skyfence.orbits import Constellation
from skyfence.timeutil import time_grid

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
START = "2026-02-22T12:00:00Z"


def terminals(n: int, seed: int = 1) -> GroundSites:
    rng = np.random.default_rng(seed)
    s = np.sin(np.radians(60.0))
    return GroundSites.from_arrays(
        np.degrees(np.arcsin(rng.uniform(-s, s, n))), rng.uniform(-180, 180, n)
    )


def cpu(f):
    t0 = time.process_time()
    out = f()
    return time.process_time() - t0, out


def kernel_table(model: NetworkModel, eph, term: GroundSites, steps: int) -> None:
    """Terminal visibility alone, same sites and steps: the previous exact stage (kept as
    ``SiteIndex._visible_pairs_reference``) beside the current one, alternating per step."""
    index = model._terminal_index
    if index is None or not hasattr(index, "_visible_pairs_reference"):
        print("(no reference kernel in this version: kernel comparison skipped)")
        print()
        return
    ref, new = [], []
    for i in range(steps):
        pos = np.asarray(eph.positions_ecef_km[:, i, :], dtype=np.float64)
        t_ref, a = cpu(lambda pos=pos: index._visible_pairs_reference(pos))
        t_new, b = cpu(lambda pos=pos: index.visible_pairs(pos))
        same = np.array_equal(a.site, b.site) and np.array_equal(a.sat, b.sat)
        same = same and np.array_equal(a.elevation_deg, b.elevation_deg)
        if not (same and np.array_equal(a.range_km, b.range_km)):
            raise SystemExit(f"step {i}: the kernels disagree")
        ref.append(t_ref)
        new.append(t_new)
    r, n = 1000 * statistics.median(ref), 1000 * statistics.median(new)
    print(
        f"| terminal visibility kernel, {len(term)} terminals | CPU ms per step (median of {steps}) | ratio |"
    )
    print("|---|---:|---:|")
    print(f"| previous exact stage (baseline, same run) | {r:.1f} | 1 |")
    print(f"| current exact stage (identical rows) | {n:.1f} | {r / n:.2f}x faster |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--schedule-terminals", type=int, default=1000)
    ap.add_argument("--schedule-minutes", type=float, default=10.0, help="1440 = the full 24 h")
    ap.add_argument("--schedule-workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()

    c = Constellation.from_preset("starlink-gen1")
    gw = load_sites(DATA / "starlink-gateways.csv", "gateway")
    pops = load_sites(DATA / "starlink-pops.csv", "pop")
    term = terminals(args.terminals)
    times = time_grid(START, 60.0 * (args.steps - 1), 60.0)
    eph = c.propagate(times)
    model = NetworkModel(c, gw, pops)
    home = model.home_pops(term)
    model.step(eph, 0, term, home_pop=home)  # plans the +Grid once (not part of a step)

    stages: dict[str, list[float]] = {}
    totals = []
    for i in range(args.steps):
        t: dict[str, float] = {}
        res = model.step(eph, i, term, home_pop=home, timings=t)
        for k, v in t.items():
            stages.setdefault(k, []).append(v)
        totals.append(sum(t.values()))
    print(
        f"## One network step: Gen1 {len(c)} sats, {len(gw)} gateways, {len(pops)} PoPs, {len(term)} terminals"
    )
    print()
    print(f"| stage | CPU ms per step (median of {args.steps} steps) |")
    print("|---|---:|")
    for k, v in stages.items():
        print(f"| {k} | {1000 * statistics.median(v):.1f} |")
    step_ms = 1000 * statistics.median(totals)
    print(f"| **total** | **{step_ms:.1f}** |")
    print()
    routed = (res.status == 0).mean()
    print(f"visible pairs {len(res.visible)}, laser links up {len(res.isl_edges)}, gateway links {len(res.gsl)}, "
          f"terminals routed {100 * routed:.1f} %, median RTT {np.nanmedian(res.rtt_ms):.1f} ms")  # fmt: skip
    print()

    kernel_table(model, eph, term, args.steps)

    if not args.no_baseline:
        pos = eph.at(0)
        edges, length = model.links(pos)
        gsl = model.gateway_links(pos)
        S, G = len(c), len(gw)
        rows = np.concatenate([edges[:, 0], edges[:, 1], S + gsl.site, gsl.sat])
        cols = np.concatenate([edges[:, 1], edges[:, 0], gsl.sat, S + gsl.site])
        w = np.concatenate([length, length, gsl.range_km, gsl.range_km])
        graph = coo_matrix((w, (rows, cols)), shape=(S + G, S + G)).tocsr()
        routing_ms = 1000 * statistics.median(stages["routing"])
        t_apsp, _ = cpu(lambda: dijkstra(graph, directed=True))
        shell0 = np.flatnonzero(c.shell_id == 0)
        sub = graph[shell0][:, shell0]
        t_fw, _ = cpu(lambda: floyd_warshall(sub, directed=True))
        print("| routing method, same graph | CPU ms | ratio to skyfence routing stage |")
        print("|---|---:|---:|")
        print(
            f"| skyfence: one bounded Dijkstra per PoP in use ({len(pops)}), {S + G} nodes | {routing_ms:.1f} | 1 |"
        )
        print(
            f"| all-pairs Dijkstra ({S + G} nodes) | {1000 * t_apsp:.0f} | {1000 * t_apsp / routing_ms:.0f}x |"
        )
        print(
            f"| dense Floyd–Warshall, one shell only ({len(shell0)} sats) | {1000 * t_fw:.0f} | {1000 * t_fw / routing_ms:.0f}x |"
        )
        print()

    n_slots = int(args.schedule_minutes * 4)  # 1440 min -> exactly 5,760 slots
    st = terminals(args.schedule_terminals, seed=2)
    grid = time_grid(START, 60.0 * args.schedule_minutes - 15.0, 15.0)
    full_day = n_slots >= 5760
    print(f"## 15-s schedule, {len(st)} terminals, {args.schedule_minutes:g} min ({n_slots} slots), "
          f"rule max-elevation")  # fmt: skip
    print()
    print("| workers | propagation wall s | schedule wall s | CPU s (all processes) | per slot ms (wall) "
          f"| 24 h at 15 s, wall s{'' if full_day else ' (extrapolated)'} |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|")
    results = {}
    for w in [int(x) for x in args.schedule_workers.split(",")]:
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        eph15 = c.propagate(grid, workers=w)
        t1 = time.perf_counter()
        sched = run_schedule(model, eph15, st, workers=w)
        t2 = time.perf_counter()
        cpu_s = cpu_seconds() - cpu0
        per_slot = (t2 - t0) / n_slots
        day = (t2 - t0) * 5760 / n_slots
        print(
            f"| {w} | {t1 - t0:.2f} | {t2 - t1:.2f} | {cpu_s:.1f} | {1000 * per_slot:.1f} | **{day:.0f}** |"
        )
        results[w] = sched
        del eph15
    print()
    sched = results[next(iter(results))]
    same = all(np.array_equal(r.serving_sat, sched.serving_sat) for r in results.values())
    print(f"median handovers per hour {np.median(sched.handovers_per_hour):.0f}, "
          f"median RTT {np.nanmedian(sched.rtt_ms):.1f} ms, same schedule for every worker count: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
