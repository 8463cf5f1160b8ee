"""Benchmark a cold start: one process that reads a stored policy and makes one decision.

This is what ``skyfence decide ...`` does per call: import skyfence, load the built-in
worldview, read the stored (sealed) policy document with ``Policy.from_document`` (which
checks every region's hash), compile it and decide one request. Each case runs in fresh
processes; the baseline, measured in the same run, is the same process without a cache
directory (every process parses the boundaries and builds what it needs).

    flock /tmp/bench.lock .venv/bin/python bench/cold_start.py [--runs 5]

Cases: no cache with the country index and the index of the policy's other regions built up
front, as every process did before (the baseline); no cache, indexes built only when a
decision needs them; an empty cache directory (the first process writes it); a warm cache
directory. After the timed decision on land the process also decides a point at sea
(distance to land). Times are wall-clock seconds, the median of ``--runs`` processes;
"process" includes the interpreter's own start.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from skyfence.policy import Policy
from skyfence.regions import world
t1 = time.perf_counter()
cache = sys.argv[2] or None
w = world(cache_dir=cache)
t2 = time.perf_counter()
doc = json.loads(open(sys.argv[1]).read())
policy = Policy.from_document(doc, source="policy version 1")
engine = policy.compile()
if sys.argv[3] == "eager":  # what every process built before: both indexes, up front
    w.index()
    engine.custom_index.index
t3 = time.perf_counter()
d = engine.decide("UT-1", 50.45, 30.52, "2026-03-01T12:00:00Z", speed_kmh=30)
t4 = time.perf_counter()
assert d.state == "active", d
sea = engine.decide("UT-1", 43.0, 31.0, "2026-03-01T12:00:00Z")  # Black Sea: distance to land
t5 = time.perf_counter()
assert sea.reason == "maritime", sea
print(json.dumps({"import": t1 - t0, "world": t2 - t1, "policy": t3 - t2, "decide": t4 - t3,
                  "sea": t5 - t4}))
"""


def run(policy_file: Path, cache: str, mode: str = "lazy") -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(policy_file), cache, mode],
        check=True,
        capture_output=True,
        text=True,
    )
    times = json.loads(out.stdout.strip().splitlines()[-1])
    times["process"] = time.perf_counter() - start
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from skyfence.policy import load_example, seal_document

    with tempfile.TemporaryDirectory() as tmp:
        policy_file = Path(tmp) / "stored-policy.json"
        policy_file.write_text(
            json.dumps(seal_document(load_example("ukraine-2026").to_document()))
        )
        rows: dict[str, list[dict[str, float]]] = {
            "no cache, indexes built up front (baseline: as before)": [],
            "no cache, indexes built when needed": [],
            "cache, first run (writes it)": [],
            "cache, warm": [],
        }
        labels = list(rows)
        for i in range(args.runs):
            rows[labels[0]].append(run(policy_file, "", "eager"))
            rows[labels[1]].append(run(policy_file, ""))
            cache = Path(tmp) / f"cache-{i}"
            rows[labels[2]].append(run(policy_file, str(cache)))
            rows[labels[3]].append(run(policy_file, str(cache)))
    base = statistics.median(r["process"] for r in rows[labels[0]])
    print(f"one decision per process, median of {args.runs} processes (seconds, wall)")
    print()
    print(
        "| case | process | vs baseline | import | world | policy (read, check, compile) "
        "| decide (land) | then a decision at sea |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {label} | {med['process']:.2f} | {med['process'] / base:.2f} | {med['import']:.2f} "
            f"| {med['world']:.2f} | {med['policy']:.2f} | {med['decide']:.3f} | {med['sea']:.3f} |"
        )


if __name__ == "__main__":
    main()
