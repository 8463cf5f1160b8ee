"""Benchmark ``skyfence links validate`` over the 78 countries of the published latency file.

    flock /tmp/bench.lock .venv/bin/python bench/validate.py [--data ../shared/data] [--baseline-countries 78]

Cases, each in this process, timed wall-clock and CPU:

* **validate** — what the command does: the element sets read and propagated once, every
  country's places routed together, one network step per sample slot (the default window:
  one slot every 30 minutes over a day), for the shipped model and for the uncalibrated one.
* **per-country (baseline)** — the same figures the naive way: one validation per country,
  each reading and propagating the element sets again (``--baseline-countries`` caps how
  many; the time is scaled to all countries and says so).

It also prints the fidelity of each model (MAE, bias, rank correlation of the median) and the
machine's load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import cpu_seconds

REPO = Path(__file__).resolve().parents[1]


def timed(fn):
    w0, c0 = time.perf_counter(), cpu_seconds()
    out = fn()
    return out, time.perf_counter() - w0, cpu_seconds() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--baseline-countries", type=int, default=78)
    args = ap.parse_args()
    data = args.data
    metrics = data / "starlink-latency-2026-03.csv"
    if not metrics.exists():
        print(f"no data at {data}; pass --data", file=sys.stderr)
        return 1

    from skyfence.app import App
    from skyfence.app.calibration import validate
    from skyfence.app.network import NetworkSpec
    from skyfence.settings import load_settings

    app = App(load_settings(data_dir=tempfile.mkdtemp(prefix="skyfence-bench-")))
    _ = app.world  # the worldview is built once per process in every case: not timed

    def spec(model: str | None) -> NetworkSpec:
        return NetworkSpec(
            str(data / "starlink-2026-02-22.tle"), data / "starlink-gateways.csv",
            data / "starlink-pops-2026.csv", data / "starlink-city-pops.csv", latency_model=model,
        )  # fmt: skip

    rows = []
    reports = {}
    for model in (None, "none"):
        rep, wall, cpu = timed(lambda m=model: validate(app, metrics, network=spec(m)))
        reports[model or "starlink-2026-03"] = rep
        rows.append((f"validate, model {rep.model}", wall, cpu, len(rep.countries)))

    with open(metrics, newline="") as f:
        lines = list(csv.reader(f))
    header, body = lines[0], lines[1 : 1 + max(args.baseline_countries, 1)]
    tmp = Path(tempfile.mkdtemp(prefix="skyfence-bench-"))

    def per_country() -> int:
        done = 0
        for row in body:
            one = tmp / f"{row[0]}.csv"
            with open(one, "w", newline="") as f:
                csv.writer(f).writerows([header, row])
            try:
                validate(app, one, network=spec(None))
                done += 1
            except Exception as exc:  # a country without a place
                if "representative place" not in str(exc):
                    raise
        return done

    done, wall, cpu = timed(per_country)
    scale = (len(lines) - 1) / len(body)
    rows.append(
        (
            f"per-country baseline ({len(body)} of {len(lines) - 1}, scaled)",
            wall * scale,
            cpu * scale,
            done,
        )
    )

    base_wall = rows[-1][1]
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{'case':58s} {'wall s':>8s} {'CPU s':>8s} {'countries':>9s} {'baseline/this':>13s}")
    for name, wall, cpu, n in rows:
        print(f"{name:58s} {wall:8.1f} {cpu:8.1f} {n:9d} {base_wall / wall:13.1f}")
    print()
    print(f"{'model':24s} {'level':6s} {'MAE ms':>7s} {'bias ms':>8s} {'rank corr':>9s}")
    for name, rep in reports.items():
        for level in ("p20", "p50", "p80"):
            s = rep.summary[level]
            print(
                f"{name:24s} {level:6s} {s['mae_ms']:7.2f} {s['bias_ms']:8.2f} {s['rank_correlation']:9.3f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
