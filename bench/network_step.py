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

The step (``min-rtt``) is timed twice per time step, alternating: with the numpy terminal
visibility kernel (today's path: every visible pair listed, then routed; the baseline) and, when
numba is installed (``pip install skyfence[fast]``), with the compiled kernel (no pair listing);
the script stops if any result differs. The terminal visibility kernel is also timed alone on
the same terminals and steps: the previous exact stage (``SiteIndex._visible_pairs_reference``,
the baseline) beside the numpy and compiled kernels (they must return identical rows) and the
compiled loops a ``min-rtt`` step runs instead of listing pairs.

Usage::

    .venv/bin/python bench/network_step.py [--terminals 10000] [--steps 5]
        [--schedule-terminals 1000] [--schedule-minutes 10] [--schedule-workers 1,2]
        [--no-baseline] [--no-schedule]

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
from _common import cpu_seconds  # noqa: E402
from scipy.sparse import coo_matrix  # noqa: E402
from scipy.sparse.csgraph import dijkstra, floyd_warshall  # noqa: E402

from skyfence.ground import GroundSites, load_sites  # noqa: E402
from skyfence.links import NetworkModel, compiled, run_schedule  # noqa: E402
from skyfence.links.search import argmin_per_group  # noqa: E402
from skyfence.links.visibility import SiteIndex  # noqa: E402
from skyfence.orbits import Constellation  # noqa: E402
from skyfence.timeutil import time_grid  # noqa: E402

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


def kernel_table(index: SiteIndex, eph, n_terms: int, steps: int) -> None:
    """Terminal visibility alone, same sites and steps, alternating per step: the previous exact
    stage (``SiteIndex._visible_pairs_reference``, the baseline), today's numpy kernel, the
    compiled kernel listing every pair, and the compiled loops that a ``min-rtt`` step runs
    instead of listing pairs (any-visible, then the best satellite per terminal; timed here
    with the slant range alone as the cost). The listing kernels must return identical rows."""
    fast = None
    if compiled.available():
        fast = SiteIndex(
            index.site_ecef_km, index.site_up, index.min_elevation_deg, kernel="compiled"
        )
    times: dict[str, list[float]] = {}
    for i in range(steps + 1):  # the first round warms up (compilation, plans) and is not kept
        pos = np.asarray(
            eph.positions_ecef_km[:, i % eph.positions_ecef_km.shape[1], :], dtype=np.float64
        )
        runs = [("reference", lambda pos=pos: index._visible_pairs_reference(pos)),
                ("numpy", lambda pos=pos: index.visible_pairs(pos))]  # fmt: skip
        if fast is not None:
            runs.append(("compiled", lambda pos=pos: fast.visible_pairs(pos)))
            runs.append(("fused", lambda pos=pos: fused_nearest(fast, pos)))
        out = {}
        for name, f in runs:
            t, out[name] = cpu(f)
            if i:
                times.setdefault(name, []).append(t)
        ref = out["reference"]
        for name in ("numpy", "compiled"):
            if name in out and not all(
                np.array_equal(getattr(ref, f), getattr(out[name], f))
                for f in ("site", "sat", "elevation_deg", "range_km")
            ):
                raise SystemExit(f"step {i}: the {name} kernel disagrees with the reference")
        if "fused" in out:  # the nearest visible satellite, from the listed pairs
            near = np.full(len(index), -1)
            best = argmin_per_group(ref.site, ref.range_km, len(index))
            near[best >= 0] = ref.sat[best[best >= 0]]
            if not np.array_equal(near, out["fused"]):
                raise SystemExit(f"step {i}: the fused loops disagree with the reference")
    labels = {
        "reference": "previous exact stage (baseline, same run)",
        "numpy": "numpy kernel (identical rows)",
        "compiled": "compiled kernel, every pair listed (identical rows)",
        "fused": "compiled, no listing: any-visible + nearest per terminal (same choice)",
    }
    r = statistics.median(times["reference"])
    print(
        f"| terminal visibility kernel, {n_terms} terminals | CPU ms per step (median of {steps}) | speed-up |"
    )
    print("|---|---:|---:|")
    for name, v in times.items():
        m = statistics.median(v)
        print(f"| {labels[name]} | {1000 * m:.1f} | {r / m:.1f}x |")
    print()


def fused_nearest(index: SiteIndex, pos: np.ndarray) -> np.ndarray:
    """What a ``min-rtt`` step runs on the terminals, with a zero distance to every satellite
    (so the cost is the slant range): the any-visible loop, then the best loop."""
    srt = index.sort_satellites(pos)
    has = index.any_visible(srt)
    n = len(index)
    slot, cost = np.full(n, -1), np.full(n, np.inf)
    index.best_per_site(srt, has, np.zeros(n, np.int64), np.zeros((1, len(pos))), slot, cost)
    out = np.full(n, -1)
    out[slot >= 0] = srt.sat_id[slot[slot >= 0]]
    return out


FIELDS = ("serving_sat", "gateway", "pop", "isl_hops", "elevation_deg", "range_km", "rtt_ms",
          "rtt_space_ms", "rtt_fibre_ms", "rtt_overhead_ms", "status")  # fmt: skip


def step_table(c, gw, pops, term, eph, steps: int) -> tuple[NetworkModel, float]:
    """The whole step (``min-rtt``), today's path (numpy kernel, every visible pair listed) and
    the compiled one (no pair listing), alternating per step; results must be identical."""
    kernels = ["numpy"] + (["compiled"] if compiled.available() else [])
    models = {k: NetworkModel(c, gw, pops, kernel=k) for k in kernels}
    home = models["numpy"].home_pops(term)
    for m in models.values():
        m.step(eph, 0, term, home_pop=home)  # plans the +Grid and the indexes (not a step)
    stages: dict[str, dict[str, list[float]]] = {k: {} for k in kernels}
    totals: dict[str, list[float]] = {k: [] for k in kernels}
    for i in range(steps):
        res = {}
        for k in kernels:
            t: dict[str, float] = {}
            res[k] = models[k].step(eph, i, term, home_pop=home, timings=t)
            for name, v in t.items():
                stages[k].setdefault(name, []).append(v)
            totals[k].append(sum(t.values()))
        for k in kernels[1:]:
            for f in FIELDS:
                a, b = getattr(res["numpy"], f), getattr(res[k], f)
                if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    raise SystemExit(f"step {i}: {f} differs between the numpy and {k} steps")
    print(f"## One network step: Gen1 {len(c)} sats, {len(gw)} gateways, {len(pops)} PoPs, {len(term)} terminals")  # fmt: skip
    print()
    head = " | ".join(f"{k} kernel" for k in kernels)
    print(f"| stage (CPU ms per step, median of {steps} steps, alternating) | {head} |"
          + (" speed-up |" if len(kernels) > 1 else ""))  # fmt: skip
    print("|---|" + "---:|" * (len(kernels) + (len(kernels) > 1)))
    med = {k: {n: 1000 * statistics.median(v) for n, v in stages[k].items()} for k in kernels}
    for name in stages["numpy"]:
        row = " | ".join(f"{med[k][name]:.1f}" for k in kernels)
        ratio = f" {med['numpy'][name] / med[kernels[-1]][name]:.1f}x |" if len(kernels) > 1 else ""
        print(f"| {name} | {row} |{ratio}")
    tot = {k: 1000 * statistics.median(totals[k]) for k in kernels}
    row = " | ".join(f"**{tot[k]:.1f}**" for k in kernels)
    ratio = f" **{tot['numpy'] / tot[kernels[-1]]:.1f}x** |" if len(kernels) > 1 else ""
    print(f"| **total** | {row} |{ratio}")
    print()
    r = res["numpy"]
    print(f"visible pairs {len(r.visible)}, laser links up {len(r.isl_edges)}, gateway links {len(r.gsl)}, "
          f"terminals routed {100 * (r.status == 0).mean():.1f} %, median RTT {np.nanmedian(r.rtt_ms):.1f} ms; "
          f"identical results: {', '.join(kernels)}")  # fmt: skip
    print()
    return models["numpy"], med["numpy"]["routing"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--schedule-terminals", type=int, default=1000)
    ap.add_argument("--schedule-minutes", type=float, default=10.0, help="1440 = the full 24 h")
    ap.add_argument("--schedule-workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-schedule", action="store_true", help="skip the 15-s schedule part")
    args = ap.parse_args()

    c = Constellation.from_preset("starlink-gen1")
    gw = load_sites(DATA / "starlink-gateways.csv", "gateway")
    pops = load_sites(DATA / "starlink-pops.csv", "pop")
    term = terminals(args.terminals)
    times = time_grid(START, 60.0 * (args.steps - 1), 60.0)
    eph = c.propagate(times)
    model, routing_ms = step_table(c, gw, pops, term, eph, args.steps)

    kernel_table(model.terminal_index(term), eph, len(term), args.steps)

    if not args.no_baseline:
        pos = eph.at(0)
        edges, length = model.links(pos)
        gsl = model.gateway_links(pos)
        S, G = len(c), len(gw)
        rows = np.concatenate([edges[:, 0], edges[:, 1], S + gsl.site, gsl.sat])
        cols = np.concatenate([edges[:, 1], edges[:, 0], gsl.sat, S + gsl.site])
        w = np.concatenate([length, length, gsl.range_km, gsl.range_km])
        graph = coo_matrix((w, (rows, cols)), shape=(S + G, S + G)).tocsr()
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

    if args.no_schedule:
        return
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
