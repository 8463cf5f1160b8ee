"""Benchmark of the misuse detectors: every detector over millions of telemetry rows, with
MovingPandas' speed computation on a sample as the baseline measured in the same run.

Run (the baseline needs the ``bench`` extra: ``pip install -e '.[bench]'``):

    flock /tmp/bench.lock .venv/bin/python bench/detect.py --rows 10000000

The telemetry is a generated ``ukraine-2026`` scenario (cached as Parquet under
``--cache``, generated on first use). Each measurement runs in a fresh process so its peak
memory is its own:

* ``skyfence``: read the Parquet file, then ``detect()`` with all eight detectors under the
  shipped ``ukraine-2026`` policy (sort, single-jump cleaning, one ``decide_batch`` per
  report, the detectors). Times are wall-clock; the first ``decide_batch`` includes building
  the country index and the policy's regions (about 2 s), as a real run does.
* ``movingpandas``: the first ``--baseline-rows`` rows (whole terminals) as a GeoDataFrame,
  a ``TrajectoryCollection`` by terminal id, then ``add_speed`` (km/h), the speed only.

The table gives rows per second and the ratio against the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _data_path(cache: Path, rows: int) -> Path:
    return cache / f"detect-ukraine-2026-{rows}.parquet"


def _ensure_data(cache: Path, rows: int, seed: int) -> Path:
    """Generate a scenario of about ``rows`` reports once (cached)."""
    path = _data_path(cache, rows)
    if path.exists():
        return path
    from skyfence.detect.scenario import simulate, write_scenario

    # ~290 reports per terminal per day in this scenario
    days = 9.0
    terminals = max(int(rows / (290 * days)), 40)
    t = time.perf_counter()
    sc = simulate(seed=seed, terminals=terminals, days=days, start="2026-01-26T00:00:00Z")
    write_scenario(sc, path)
    print(
        f"generated {len(sc.telemetry):,} rows of {len(sc.classes):,} terminals in "
        f"{time.perf_counter() - t:.0f} s -> {path}",
        file=sys.stderr,
    )
    return path


def _child_skyfence(path: Path) -> dict:
    from skyfence.detect import detect, read_telemetry
    from skyfence.policy import TerminalRegistry, load_example

    t0 = time.perf_counter()
    tel = read_telemetry(path)
    read_s = time.perf_counter() - t0
    registry = TerminalRegistry.load(path.with_suffix("").with_name(path.stem + ".terminals.csv"))
    policy = load_example("ukraine-2026")
    t1 = time.perf_counter()
    report = detect(tel, policy, registry)
    detect_s = time.perf_counter() - t1
    return {
        "rows": len(tel),
        "terminals": tel.n_terminals,
        "read_s": read_s,
        "detect_s": detect_s,
        "stages": report.seconds,
        "findings": len(report.findings),
        "counts": report.counts(),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child_movingpandas(path: Path, rows: int) -> dict:
    import geopandas as gpd
    import movingpandas as mpd
    import pandas as pd
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["terminal_id", "time", "latitude_deg", "longitude_deg"])
    df = table.slice(0, rows * 2).to_pandas()
    df["terminal_id"] = df["terminal_id"].astype(str)
    # whole terminals, about ``rows`` rows
    counts = df.groupby("terminal_id", sort=False).size().cumsum()
    keep = counts.index[counts <= rows]
    df = df[df["terminal_id"].isin(keep)].copy()
    df["time"] = pd.to_datetime(df["time"]).dt.tz_localize(None)
    t0 = time.perf_counter()
    gdf = gpd.GeoDataFrame(
        df, geometry=gpd.points_from_xy(df["longitude_deg"], df["latitude_deg"]), crs="EPSG:4326"
    )
    tc = mpd.TrajectoryCollection(gdf, "terminal_id", t="time")
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    tc.add_speed(overwrite=True, units=("km", "h"))
    speed_s = time.perf_counter() - t1
    return {
        "rows": int(len(df)),
        "terminals": int(df["terminal_id"].nunique()),
        "build_s": build_s,
        "speed_s": speed_s,
        "version": mpd.__version__,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/skyfence-bench"))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--child", choices=["skyfence", "movingpandas"], help=argparse.SUPPRESS)
    ap.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "skyfence":
        print(json.dumps(_child_skyfence(args.path)))
        return
    if args.child == "movingpandas":
        print(json.dumps(_child_movingpandas(args.path, args.baseline_rows)))
        return

    args.cache.mkdir(parents=True, exist_ok=True)
    path = _ensure_data(args.cache, args.rows, args.seed)
    load = os.getloadavg()
    runs = [_run_child("--child", "skyfence", "--path", str(path)) for _ in range(args.repeat)]
    sky = min(runs, key=lambda r: r["detect_s"])
    try:
        mp = _run_child(
            "--child",
            "movingpandas",
            "--path",
            str(path),
            "--baseline-rows",
            str(args.baseline_rows),
        )
    except subprocess.CalledProcessError as exc:
        mp = None
        print(
            f"baseline failed (install the bench extra): {exc.stderr.strip()[-300:]}",
            file=sys.stderr,
        )
    load_after = os.getloadavg()

    sky_rate = sky["rows"] / sky["detect_s"]
    print(f"load average before {load[0]:.2f} / after {load_after[0]:.2f}; {os.cpu_count()} cores")
    print(f"telemetry: {sky['rows']:,} rows of {sky['terminals']:,} terminals ({path.name})")
    print()
    print("| case | rows | seconds | rows/s | peak RSS (MB) | vs baseline |")
    print("|---|---:|---:|---:|---:|---:|")
    if mp is not None:
        mp_rate = mp["rows"] / mp["speed_s"]
        mp_all = mp["rows"] / (mp["speed_s"] + mp["build_s"])
        print(
            f"| MovingPandas {mp['version']} `add_speed` (baseline) | {mp['rows']:,} | "
            f"{mp['speed_s']:.2f} | {mp_rate:,.0f} | {mp['peak_rss_mb']:,.0f} | 1× |"
        )
        print(
            f"| MovingPandas trajectories + `add_speed` | {mp['rows']:,} | "
            f"{mp['speed_s'] + mp['build_s']:.2f} | {mp_all:,.0f} | | |"
        )
    ratio = f"{sky_rate / mp_rate:,.0f}×" if mp is not None else "—"
    print(
        f"| skyfence read Parquet | {sky['rows']:,} | {sky['read_s']:.2f} | "
        f"{sky['rows'] / sky['read_s']:,.0f} | | |"
    )
    print(
        f"| skyfence all 8 detectors | {sky['rows']:,} | {sky['detect_s']:.2f} | "
        f"{sky_rate:,.0f} | {sky['peak_rss_mb']:,.0f} | {ratio} |"
    )
    print()
    print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in sky["stages"].items()))
    print("findings: " + ", ".join(f"{k} {v:,}" for k, v in sky["counts"].items()))


if __name__ == "__main__":
    main()
