"""Benchmark: coverage of every land cell of the world at H3 resolution 4 (~84,000 cells) over
1 hour at 15 s for the Starlink Gen1 preset.

    .venv/bin/python bench/coverage.py            # the full run (241 steps)
    .venv/bin/python bench/coverage.py --quick    # 5 minutes of window (21 steps)

Prints a table: the coverage run (propagation + network step + aggregation) per step and in all,
against a baseline measured in the same run on the same cells: the bare visibility test alone
(``NetworkModel.terminal_visibility``, including the one-time build of its site index), the
part of the work every coverage tool does.
"""

from __future__ import annotations

import argparse
import resource
import time

import h3
import numpy as np

from skyfence.analysis.coverage import cell_sites, compute_coverage
from skyfence.analysis.gateways import planned_gateways
from skyfence.ground import default_pops
from skyfence.links import NetworkModel
from skyfence.orbits import Constellation
from skyfence.regions import world
from skyfence.timeutil import time_grid


def land_cells(res: int) -> np.ndarray:
    """Res-``res`` cells whose centre is on land (any country of the built-in worldview)."""
    all_cells = np.asarray(
        [h3.str_to_int(c) for base in h3.get_res0_cells() for c in h3.cell_to_children(base, res)],
        dtype=np.uint64,
    )
    ll = np.array([h3.cell_to_latlng(h3.int_to_str(int(c))) for c in all_cells])
    found = world().index().lookup(ll[:, 0], ll[:, 1])
    return all_cells[found >= 0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--res", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1, help="processes for the time shards")
    args = ap.parse_args()
    window_s = 300 if args.quick else 3600

    t0 = time.perf_counter()
    cells = land_cells(args.res)
    t_cells = time.perf_counter() - t0
    c = Constellation.from_preset("starlink-gen1")
    pops = default_pops()
    gws = planned_gateways(pops)  # the plan every command uses
    model = NetworkModel(c, gws, pops)
    times = time_grid("2026-02-22T12:00:00Z", window_s, 15)

    # baseline: visibility only, same cells and times
    terminals = cell_sites(cells)
    eph = c.propagate(times[:5])
    t0 = time.perf_counter()
    for k in range(5):
        model.terminal_visibility(eph.positions_ecef_km[:, k, :], terminals)
    vis_per_step = (time.perf_counter() - t0) / 5

    t0 = time.perf_counter()
    if args.workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers) as pool:
            cov = compute_coverage(cells, times, constellation=c, model=model, executor=pool)
    else:
        cov = compute_coverage(cells, times, constellation=c, model=model)
    total = time.perf_counter() - t0
    s = cov.summary()
    per_step = total / len(times)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = [
        (f"land cells (res {args.res})", f"{len(cells):,}", f"found in {t_cells:.1f} s"),
        ("steps", f"{len(times)}", f"window {window_s / 60:g} min at 15 s"),
        ("visibility only (baseline), per step", f"{vis_per_step * 1000:.0f} ms", "1.00x"),
        (
            "full coverage step, per step",
            f"{per_step * 1000:.0f} ms",
            f"{per_step / vis_per_step:.2f}x baseline",
        ),
        (
            f"full coverage run, {args.workers} worker(s)",
            f"{total:.1f} s",
            f"{total / 60:.2f} min (target < 2 min for 1 h)",
        ),
        (
            "world land served (area-weighted)",
            f"{s['served_fraction']:.1%}",
            f"RTT p50 {s['rtt_p50_ms']:.1f} ms",
        ),
        ("peak RSS", f"{peak_gb:.2f} GB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")


if __name__ == "__main__":
    main()
