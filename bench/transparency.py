"""Benchmark the C2SP log: appends with a C2SP checkpoint per batch, verifying a big export,
writing and verifying its tiles.

Usage::

    .venv/bin/python bench/transparency.py                 # 1,000,000 entries
    .venv/bin/python bench/transparency.py --big 100000    # quicker

Prints a table. Baselines measured in the same run:

* appends: the same entry rows inserted with a plain ``executemany`` (no Merkle nodes, no
  signature) — the cost of the database alone;
* verification: reading the export and hashing every entry into the root (JSON parse,
  canonical JSON, SHA-256, the tree) with nothing else checked — the least any verifier does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from skyfence.store import Store, verify_export
from skyfence.store.canonical import canonical_json
from skyfence.store.merkle import MemoryTree, leaf_hash
from skyfence.store.tiles import write_tiles
from skyfence.transparency.note import parse_vkey
from skyfence.transparency.tiles import directory_reader, verify_tiles


def bench_appends(base: Path, total: int, batch: int) -> list[tuple[str, float, str]]:
    rows = []
    with Store.open(f"sqlite:///{base / 'append.db'}", key_dir=base / "keys") as store:
        store.log.checkpoint()  # the key and the origin outside the timing
        t = time.perf_counter()
        for start in range(0, total, batch):
            store.log.append_many(
                [("note", {"i": i}, "bench", "batch") for i in range(start, start + batch)]
            )
        dt = time.perf_counter() - t
        cp = store.log.latest_checkpoint()
        assert cp is not None and cp.note is not None and cp.origin is not None
        rows.append(
            (
                f"append_many, {batch} entries + 1 C2SP checkpoint per transaction",
                total / dt,
                "entries/s",
            )
        )
    engine = sa.create_engine(f"sqlite:///{base / 'plain.db'}")
    meta = sa.MetaData()
    table = sa.Table(
        "t",
        meta,
        sa.Column("i", sa.Integer, primary_key=True),
        sa.Column("entry_json", sa.Text),
        sa.Column("leaf_hash", sa.LargeBinary),
    )
    meta.create_all(engine)
    t = time.perf_counter()
    for start in range(0, total, batch):
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {"i": i, "entry_json": json.dumps({"i": i}), "leaf_hash": b"\0" * 32}
                    for i in range(start, start + batch)
                ],
            )
    dt = time.perf_counter() - t
    rows.append((f"baseline: plain executemany, {batch} rows per transaction", total / dt, "rows/s"))
    engine.dispose()
    return rows


def bench_verify(base: Path, big: int, batch: int) -> list[tuple[str, float, str]]:
    rows = []
    url = f"sqlite:///{base / 'big.db'}"
    with Store.open(url, key_dir=base / "keys") as store:
        t = time.perf_counter()
        for start in range(0, big, batch):
            n = min(batch, big - start)
            store.log.append_many(
                [("note", {"i": i}, "bench", "fill") for i in range(start, start + n)]
            )
        rows.append(("build the log (append_many, 10,000 per transaction)", time.perf_counter() - t, "s"))
        export = base / "big.jsonl"
        t = time.perf_counter()
        summary = store.log.export(export)
        rows.append(("export", time.perf_counter() - t, "s"))
        pem = store.log.pubkey()
        vkey = store.log.vkey()
        tiles = base / "tiles"
        t = time.perf_counter()
        write_tiles(store.log, tiles)
        rows.append(("write tiles (log tiles)", time.perf_counter() - t, "s"))
    t = time.perf_counter()
    report = verify_export(export, pem)
    dt = time.perf_counter() - t
    assert report.ok, report.problem
    rows.append((f"verify the export ({summary.entries:,} entries, log verify FILE)", dt, "s"))
    t = time.perf_counter()
    tree = MemoryTree()
    with export.open("rb") as fh:
        for line in fh:
            record = json.loads(line)
            if record["type"] == "entry":
                tree.append(leaf_hash(canonical_json(record["entry"])))
    root = tree.root()
    base_dt = time.perf_counter() - t
    assert root.hex() == summary.root_hash
    rows.append(("baseline: parse + hash every entry into the root, nothing else", base_dt, "s"))
    rows.append(("verify / baseline", dt / base_dt, "x"))
    t = time.perf_counter()
    got = verify_tiles(directory_reader(tiles), parse_vkey(vkey))
    assert got.entries == summary.entries
    rows.append(("verify the tiles (python -m skyfence.transparency tiles)", time.perf_counter() - t, "s"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=1_000_000, help="entries in the export")
    parser.add_argument("--appends", type=int, default=20_000, help="entries appended in batches")
    parser.add_argument("--batch", type=int, default=100, help="entries per append transaction")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rows = bench_appends(base, args.appends, args.batch)
        rows += bench_appends(base / "b", args.appends, 1000) if (base / "b").mkdir() is None else []
        rows += bench_verify(base, args.big, 10_000)
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'value':>12}  unit")
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:>12,.2f}  {unit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
