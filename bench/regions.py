"""Benchmark of the RegionIndex: build time, memory, look-ups per second vs plain shapely.

Run: .venv/bin/python bench/regions.py [--points 2000000] [--baseline-points 200000]

Prints one table. The baseline, measured in the same run, is plain shapely on the same
country polygons: an STRtree over the countries queried with the points and the exact
``intersects`` predicate (bounding-box filter + exact point-in-polygon), i.e. what one writes
without an index. Throughput is single-threaded (one core).
"""

from __future__ import annotations

import argparse
import time

import h3
import numpy as np
import shapely


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--baseline-points", type=int, default=200_000)
    args = ap.parse_args()

    from skyfence.regions import RegionIndex, world

    t = time.perf_counter()
    w = world()
    load_s = time.perf_counter() - t
    rss0 = rss_mb()
    t = time.perf_counter()
    idx = RegionIndex(w.countries)
    build_s = time.perf_counter() - t
    rss1 = rss_mb()

    rng = np.random.default_rng(1)
    n = args.points
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    coords = shapely.get_coordinates([shapely.boundary(r.geometry) for r in w.countries])
    pick = coords[rng.integers(0, len(coords), n)]
    lat_b = np.clip(pick[:, 1] + rng.normal(0, 0.01, n), -90, 90)
    lon_b = np.clip(pick[:, 0] + rng.normal(0, 0.01, n), -180, 180)

    tree = shapely.STRtree([r.geometry for r in w.countries])
    m = args.baseline_points

    def baseline(la, lo):
        tree.query(shapely.points(lo, la), predicate="intersects")

    def h3_loop(la, lo):
        for a, b in zip(la.tolist(), lo.tolist(), strict=True):
            h3.latlng_to_cell(a, b, 5)

    rows = []
    for label, la, lo in (
        ("uniform on the globe", lat, lon),
        ("within ~1 km of borders", lat_b, lon_b),
    ):
        idx_s = best_of(lambda la=la, lo=lo: idx.lookup(la, lo))
        mem_s = best_of(lambda la=la, lo=lo: idx.memberships(la, lo))
        base_s = best_of(lambda la=la, lo=lo: baseline(la[:m], lo[:m]), repeat=1)
        h3_s = best_of(lambda la=la, lo=lo: h3_loop(la[:m], lo[:m]), repeat=1)
        idx_rate, base_rate = n / idx_s, m / base_s
        rows.append((label, idx_rate, n / mem_s, base_rate, m / h3_s, idx_rate / base_rate))
        # same answers as the baseline on the baseline's points
        got = idx.lookup(la[:m], lo[:m])
        pt, reg = tree.query(shapely.points(lo[:m], la[:m]), predicate="intersects")
        want = np.full(m, np.iinfo(np.int64).max)
        np.minimum.at(want, pt, reg)
        want[want == np.iinfo(np.int64).max] = -1
        assert np.array_equal(got, want), "index and baseline disagree"

    stats = idx.stats
    print(f"worldview: {w.worldview}; {len(w.countries)} countries")
    print(
        f"load boundaries {load_s:.2f} s | build index {build_s:.2f} s | "
        f"RSS +{rss1 - rss0:.0f} MB (structures ~{idx.nbytes / 1e6:.0f} MB) | "
        f"raster {idx.raster_deg}°: {stats['uniform_cells']:,} uniform, "
        f"{stats['mixed_cells']:,} mixed cells, {stats['pieces']:,} pieces"
    )
    print()
    print(
        f"{'points':<26}{'lookup pts/s':>14}{'memberships':>14}{'shapely STRtree':>17}"
        f"{'h3 latlng_to_cell':>19}{'lookup/shapely':>16}"
    )
    for label, a, b, c, d, ratio in rows:
        print(f"{label:<26}{a:>14,.0f}{b:>14,.0f}{c:>17,.0f}{d:>19,.0f}{ratio:>15.1f}x")
    print(f"\n(index: {n:,} points per run, best of 3; baselines: {m:,} points, 1 run)")


if __name__ == "__main__":
    main()
