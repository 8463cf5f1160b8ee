"""Benchmark of the global day: every land cell at H3 resolution 5 for 24 hours, measured on a
sample of its shards and extrapolated, with 1 against 2 workers in the same run.

Run:

    flock /tmp/bench.lock .venv/bin/python bench/global_day.py --step 60s
    flock /tmp/bench.lock .venv/bin/python bench/global_day.py --step 60s \
        --elements ../shared/data/starlink-2026-02-22.tle

What it does:

1. Builds the sweep exactly as ``skyfence coverage world --resolution 5 --window 24h`` does
   (:func:`skyfence.app.sweep.coverage_sweep`): the land cells of the worldview (cached on
   disk after the first build), the network (Gen1 preset or ``--elements``, planned gateways,
   the default latency model), and the shard plan (hour windows x ``--block-cells`` cells).
2. Picks ``--sample`` shards spread evenly over the whole plan (every hour, every part of the
   world) and runs the same sample three ways, timing each (wall clock): one worker (this
   process: the baseline), ``--workers`` local processes, and a Dask ``LocalCluster`` of
   ``--workers`` one-thread worker processes; each worker first runs two one-cell shards
   (imports, the model's lazily built state) off the clock. The shard results of the three runs are compared
   (they must be identical).
3. Times the per-hour GeoParquet write for all cells (hexagon WKB built once, then one file).
4. Prints a table: seconds per shard, cell-steps per second, the speed-up against one worker,
   and the global day extrapolated from the sample (the whole plan's shard count x the mean
   shard time / the measured speed-up), plus N machines under the stated assumptions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _timed_shard(common: object, spec: object) -> tuple[dict, float, float, float]:
    """The shard, with its wall seconds, its process's CPU seconds (every thread: a Dask
    worker's event loop too) and its own thread's CPU seconds, measured where it ran."""
    from skyfence.scale.sweep import sweep_shard

    t, c, th = time.perf_counter(), time.process_time(), time.thread_time()
    result = sweep_shard(common, spec)  # type: ignore[arg-type]
    return result, time.perf_counter() - t, time.process_time() - c, time.thread_time() - th


def _warm(common: object, spec: object) -> int:
    """A one-cell, one-step shard: imports and the model's lazily built state, per worker."""
    from skyfence.scale.sweep import sweep_shard

    sweep_shard(common, spec)  # type: ignore[arg-type]
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--resolution", type=int, default=5)
    ap.add_argument("--window", default="24h")
    ap.add_argument("--step", default="60s")
    ap.add_argument("--block-cells", type=int, default=5000)
    ap.add_argument("--sample", type=int, default=6, help="shards timed per configuration")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--elements", type=Path, default=None, help="an element-set file")
    ap.add_argument("--skip-dask", action="store_true")
    args = ap.parse_args(argv)

    from skyfence.analysis.coverage import cell_sites
    from skyfence.app.context import App
    from skyfence.app.network import NetworkSpec, load_network
    from skyfence.app.sweep import land_cells, sweep_times
    from skyfence.links import DEFAULT_RULE
    from skyfence.scale import Parallel, open_runner
    from skyfence.scale.outputs import cell_wkb, write_window
    from skyfence.scale.sweep import ShardSpec, SweepCommon, SweepPlan
    from skyfence.timeutil import parse_duration

    app = App()
    step_s, duration_s = parse_duration(args.step), parse_duration(args.window)
    t = time.perf_counter()
    cells = land_cells(app, args.resolution)
    t_cells = time.perf_counter() - t
    spec = NetworkSpec(str(args.elements) if args.elements else "starlink-gen1")
    t = time.perf_counter()
    net = load_network(app, spec)
    times = sweep_times("2026-02-22T00:00:00Z", duration_s, step_s)
    terminals = cell_sites(cells)
    common = SweepCommon(
        net.constellation, net.model, terminals, net.model.home_pops(terminals), times,
        DEFAULT_RULE,
    )  # fmt: skip
    t_setup = time.perf_counter() - t
    plan = SweepPlan(len(cells), len(times), int(round(3600 / step_s)), args.block_cells)
    shards = plan.shards()
    pick = np.linspace(0, len(shards) - 1, args.sample).round().astype(int)
    sample = [shards[i] for i in pick]
    cell_steps = sum((s.t1 - s.t0) * (s.c1 - s.c0) for s in sample)
    print(
        f"# {len(cells):,} land cells at res {args.resolution} (built/loaded in {t_cells:.0f} s), "
        f"{len(net.constellation.elements):,} satellites ({spec.constellation}), "
        f"{len(times):,} steps of {step_s:g} s; plan: {len(shards):,} shards of "
        f"{args.block_cells:,} cells x {plan.window_steps} steps; setup {t_setup:.0f} s; "
        f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
    )

    configs: list[tuple[str, Parallel]] = [
        ("1 worker (this process)", Parallel()),
        (f"{args.workers} local processes", Parallel(workers=args.workers)),
    ]
    if not args.skip_dask:
        configs.append(
            (f"Dask LocalCluster, {args.workers} workers", Parallel(dask_workers=args.workers))
        )
    rows = []
    reference = None
    for name, parallel in configs:
        with open_runner(parallel) as runner:
            # start-up is not shard time: workers import skyfence once, before the clock
            t = time.perf_counter()
            tiny = ShardSpec("warm", 0, 0, 0, 1, 0, 1)
            runner.run(_warm, [tiny] * (2 * runner.workers), common=common)
            warm = time.perf_counter() - t
            load0 = os.getloadavg()[0]
            t = time.perf_counter()
            timed = runner.run(_timed_shard, sample, common=common)
            wall = time.perf_counter() - t
        results = [r for r, _, _, _ in timed]
        shard_wall = float(np.mean([w for _, w, _, _ in timed]))
        shard_cpu = float(np.mean([c for _, _, c, _ in timed]))
        shard_thread = float(np.mean([th for _, _, _, th in timed]))
        load = (load0 + os.getloadavg()[0]) / 2
        if reference is None:
            reference = results
        same = all(
            all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
            for a, b in zip(reference, results, strict=True)
        )
        rows.append((name, wall, shard_wall, shard_cpu, shard_thread, load, same))
        print(f"  {name}: {wall:.1f} s wall (start-up {warm:.1f} s before), identical={same}",
              file=sys.stderr)  # fmt: skip

    # the per-hour GeoParquet of the whole world
    t = time.perf_counter()
    wkb = cell_wkb(cells)
    t_wkb = time.perf_counter() - t
    lat, lon = terminals.latitude_deg, terminals.longitude_deg
    fake = [reference[0] | {k: np.resize(v, len(cells)) for k, v in reference[0].items()
                            if k not in ("rtt_hist", "gateway_steps")}]  # fmt: skip
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "skyfence-bench-hour.parquet"
    t = time.perf_counter()
    write_window(out, 0, plan, fake, cells=cells, latitude_deg=lat, longitude_deg=lon,
                 times=times, wkb=wkb)  # fmt: skip
    t_write = time.perf_counter() - t
    size_mb = out.stat().st_size / 1e6
    out.unlink()

    base = rows[0][1]
    n = len(sample)
    print()
    print(
        f"| configuration | run wall s ({n} shards) | wall s / shard (in shard) | CPU s / shard "
        "(in shard, process) | CPU s / shard (the shard's thread) | cell-steps / CPU s | "
        "load avg | speed-up (run wall) | same results |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, wall, sw, sc, sth, load, same in rows:
        print(f"| {name} | {wall:.1f} | {sw:.2f} | {sc:.2f} | {sth:.2f} | "
              f"{cell_steps / n / sc:,.0f} | {load:.1f} | {base / wall:.2f}x | "
              f"{'yes' if same else 'NO'} |")  # fmt: skip
    print()
    cpu_shard = rows[0][3]
    day_cpu = cpu_shard * len(shards)
    speedup = max(base / r[1] for r in rows)
    print(
        f"| global day ({len(cells):,} cells x {len(times):,} steps = "
        f"{len(cells) * len(times) / 1e6:,.0f} M cell-steps, {len(shards):,} shards) | hours |"
    )
    print("|---|---:|")
    print(f"| CPU time (in-shard CPU s x all shards) | {day_cpu / 3600:.1f} |")
    print(f"| this machine as measured, 1 worker (run wall x all shards) | "
          f"{base / n * len(shards) / 3600:.1f} |")  # fmt: skip
    print(f"| this machine as measured, best of {args.workers} workers ({speedup:.2f}x) | "
          f"{base / n * len(shards) / speedup / 3600:.1f} |")  # fmt: skip
    for machines in (1, 4, 16, 64):
        print(f"| {machines} idle machine(s) x {args.workers} cores (CPU time / cores) | "
              f"{day_cpu / (machines * args.workers) / 3600:.2f} |")  # fmt: skip
    print()
    print(f"hour file for all cells: hexagon WKB {t_wkb:.1f} s (once per sweep), GeoParquet "
          f"write {t_write:.1f} s, {size_mb:.0f} MB; x{plan.windows} hours")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    raise SystemExit(main())
