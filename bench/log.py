"""Benchmark the transparency log: append rate with signed checkpoints, proof time on a big log.

Usage::

    .venv/bin/python bench/log.py                 # 1,000,000-entry tree for the proofs
    .venv/bin/python bench/log.py --big 100000    # quicker

Prints a table. Baselines measured in the same run:

* appends: the same entry rows inserted with a plain ``executemany`` (no Merkle nodes, no
  signature, no chaining) — the cost of the database alone;
* proofs: recomputing the root naively from all leaf hashes read from the database, which is
  what a log without stored subtree hashes must do for every proof.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from skyfence.store import Store
from skyfence.store.merkle import EMPTY_ROOT, leaf_hash, node_hash, root_from_leaf_hashes


def bench_appends(
    base: Path, singles: int, batched: int, batch: int
) -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    with Store.open(f"sqlite:///{base / 'append.db'}", key_dir=base / "keys") as store:
        store.log.checkpoint()  # make the key outside the timing
        t = time.perf_counter()
        for i in range(singles):
            store.log.append("note", {"i": i}, author="bench", reason="single")
        dt = time.perf_counter() - t
        rows.append(
            ("append, 1 entry + signed checkpoint per transaction", singles / dt, "entries/s")
        )
        t = time.perf_counter()
        for start in range(0, batched, batch):
            store.log.append_many(
                [("note", {"i": i}, "bench", "batch") for i in range(start, start + batch)]
            )
        dt = time.perf_counter() - t
        rows.append(
            (
                f"append_many, {batch} entries + 1 signed checkpoint per transaction",
                batched / dt,
                "entries/s",
            )
        )
        assert store.log.verify().ok
    # baseline: the same number of rows, plain executemany, no tree, no signature
    engine = sa.create_engine(f"sqlite:///{base / 'plain.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql(
            "CREATE TABLE e (i INTEGER PRIMARY KEY, j TEXT NOT NULL, h BLOB NOT NULL)"
        )
    t = time.perf_counter()
    for start in range(0, batched, batch):
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO e (i, j, h) VALUES (:i, :j, :h)"),
                [
                    {"i": i, "j": f'{{"i":{i}}}', "h": hashlib.sha256(b"%d" % i).digest()}
                    for i in range(start, start + batch)
                ],
            )
    dt = time.perf_counter() - t
    engine.dispose()
    rows.append(
        (f"baseline: plain executemany, {batch} rows per transaction", batched / dt, "rows/s")
    )
    return rows


def build_big_log(url: str, n: int) -> None:
    """Bulk-insert the Merkle nodes of an n-entry log (leaf hashes of synthetic entries)."""
    engine = sa.create_engine(url)
    level = [leaf_hash(b"entry %d" % i) for i in range(n)]
    with engine.begin() as conn:
        insert = sa.text("INSERT INTO merkle_nodes (level, node_index, hash) VALUES (:l, :i, :h)")
        lvl = 0
        while level:
            for start in range(0, len(level), 50_000):
                conn.execute(
                    insert,
                    [
                        {"l": lvl, "i": start + k, "h": h}
                        for k, h in enumerate(level[start : start + 50_000])
                    ],
                )
            if len(level) == 1:
                break
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            lvl += 1
        root = (
            root_from_leaf_hashes([leaf_hash(b"entry %d" % i) for i in range(n)])
            if n
            else EMPTY_ROOT
        )
        conn.execute(
            sa.text("UPDATE log_head SET tree_size = :n, root_hash = :r WHERE id = 1"),
            {"n": n, "r": root},
        )
    engine.dispose()


def bench_proofs(base: Path, n: int, repeats: int) -> list[tuple[str, float, str]]:
    url = f"sqlite:///{base / 'big.db'}"
    Store.open(url, key_dir=base / "keys").close()  # schema
    t = time.perf_counter()
    build_big_log(url, n)
    build_s = time.perf_counter() - t
    rows: list[tuple[str, float, str]] = [
        (f"build {n:,}-entry tree (bulk insert of nodes)", build_s, "s")
    ]
    rng = random.Random(1)
    with Store.open(url, key_dir=base / "keys") as store:
        store.log.inclusion_proof(0)  # warm the connection pool
        incl, cons = [], []
        for _ in range(repeats):
            index = rng.randrange(n)
            t = time.perf_counter()
            proof = store.log.inclusion_proof(index)
            incl.append(time.perf_counter() - t)
            assert proof.verify()
            old = rng.randrange(1, n + 1)
            t = time.perf_counter()
            cproof = store.log.consistency_proof(old)
            cons.append(time.perf_counter() - t)
            assert cproof.verify()
        rows.append(
            (
                f"inclusion proof, {n:,} entries (median of {repeats})",
                statistics.median(incl) * 1e3,
                "ms",
            )
        )
        p95 = sorted(incl)[int(0.95 * (len(incl) - 1))]
        rows.append((f"inclusion proof, {n:,} entries (95th percentile)", p95 * 1e3, "ms"))
        rows.append((f"inclusion proof, {n:,} entries (max)", max(incl) * 1e3, "ms"))
        rows.append(
            (
                f"consistency proof, {n:,} entries (median of {repeats})",
                statistics.median(cons) * 1e3,
                "ms",
            )
        )
    engine = sa.create_engine(url)
    t = time.perf_counter()
    with engine.connect() as conn:
        leaves = [
            bytes(h)
            for (h,) in conn.execute(
                sa.text("SELECT hash FROM merkle_nodes WHERE level = 0 ORDER BY node_index")
            )
        ]
    root = root_from_leaf_hashes(leaves)
    naive = time.perf_counter() - t
    engine.dispose()
    assert root.hex() == proof.root_hash
    rows.append(("baseline: naive root from all leaves (read + hash)", naive * 1e3, "ms"))
    rows.append(
        ("inclusion proof speed-up over the baseline", naive / statistics.median(incl), "x")
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000, help="entries in the proof log")
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--batched", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rows = bench_appends(base, args.singles, args.batched, args.batch)
        rows += bench_proofs(base, args.big, args.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'value':>12}  unit")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>12,.2f}  {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
