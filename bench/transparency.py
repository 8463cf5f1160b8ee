"""Benchmark the C2SP log: appends with a C2SP checkpoint per batch, verifying a big export,
writing and verifying its tiles.

Usage::

    .venv/bin/python bench/transparency.py                 # 1,000,000 entries
    .venv/bin/python bench/transparency.py --big 100000    # quicker
    .venv/bin/python bench/transparency.py --reuse /tmp/big  # keep the built log for next time

Prints a table. Baselines measured in the same run:

* appends: the same entry rows inserted with a plain ``executemany`` (no Merkle nodes, no
  signature) — the cost of the database alone;
* verification: reading the export and hashing every entry into the root (JSON parse,
  canonical JSON, SHA-256, the tree) with nothing else checked — the least any verifier does.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
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


class Rows(list[tuple[str, float, str]]):
    """The table, printed row by row as it is measured (a long run shows progress)."""

    def append(self, row: tuple[str, float, str]) -> None:
        super().append(row)
        name, value, unit = row
        print(f"{name:<78}  {value:>14,.2f}  {unit}", flush=True)


def bench_appends(
    base: Path, total: int, batch: int, url: str | None = None, label: str = "SQLite"
) -> list[tuple[str, float, str]]:
    rows = Rows()
    url = url or f"sqlite:///{base / 'append.db'}"
    with Store.open(url, key_dir=base / "keys") as store:
        store.log.checkpoint()  # the key and the origin outside the timing
        t, cpu = time.perf_counter(), time.process_time()
        for start in range(0, total, batch):
            store.log.append_many(
                [("note", {"i": i}, "bench", "batch") for i in range(start, start + batch)]
            )
        dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
        cp = store.log.latest_checkpoint()
        assert cp is not None and cp.note is not None and cp.origin is not None
        rows.append(
            (
                f"{label}: append_many, {batch} entries + 1 C2SP checkpoint per transaction",
                total / dt,
                "entries/s",
            )
        )
        rows.append(("  CPU time of this process per 1,000 entries", dcpu / total * 1000, "s"))
    engine = sa.create_engine(url if label != "SQLite" else f"sqlite:///{base / 'plain.db'}")
    meta = sa.MetaData()
    table = sa.Table(
        "bench_plain",
        meta,
        sa.Column("i", sa.Integer, primary_key=True),
        sa.Column("entry_json", sa.Text),
        sa.Column("leaf_hash", sa.LargeBinary),
    )
    meta.create_all(engine)
    t, cpu = time.perf_counter(), time.process_time()
    for start in range(0, total, batch):
        with engine.begin() as conn:
            conn.execute(
                table.insert(),
                [
                    {"i": i, "entry_json": json.dumps({"i": i}), "leaf_hash": b"\0" * 32}
                    for i in range(start, start + batch)
                ],
            )
    dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
    rows.append(
        (f"{label} baseline: plain executemany, {batch} rows per transaction", total / dt, "rows/s")
    )
    rows.append(("  CPU time of this process per 1,000 rows", dcpu / total * 1000, "s"))
    engine.dispose()
    return rows


def _children_cpu() -> float:
    """User + system CPU of the finished child processes (verify's workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_verify(
    base: Path, big: int, batch: int, *, reuse: bool = False, tiles_too: bool = True
) -> list[tuple[str, float, str]]:
    rows = Rows()
    url = f"sqlite:///{base / 'big.db'}"
    export = base / "big.jsonl"
    tiles = base / "tiles"
    with Store.open(url, key_dir=base / "keys") as store:
        if reuse and export.exists():
            size = store.log.size()
            if size != big + 1:  # + the key.create entry
                raise SystemExit(f"{base} holds a log of {size} entries, not {big + 1}")
            print(f"(reusing the log and export built before in {base})", flush=True)
            summary_entries, summary_root = size, store.log.root()
        else:
            t = time.perf_counter()
            for start in range(0, big, batch):
                n = min(batch, big - start)
                store.log.append_many(
                    [("note", {"i": i}, "bench", "fill") for i in range(start, start + n)]
                )
            rows.append(
                ("build the log (append_many, 10,000 per transaction)", time.perf_counter() - t,
                 "s")
            )  # fmt: skip
            t = time.perf_counter()
            summary = store.log.export(export)
            rows.append(("export", time.perf_counter() - t, "s"))
            summary_entries, summary_root = summary.entries, summary.root_hash
        pem = store.log.pubkey()
        vkey = store.log.vkey()
        if tiles_too and not (tiles / "checkpoint").exists():
            t = time.perf_counter()
            write_tiles(store.log, tiles)
            rows.append(("write tiles (log tiles)", time.perf_counter() - t, "s"))
    t, cpu, kids = time.perf_counter(), time.process_time(), _children_cpu()
    report = verify_export(export, pem)
    dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
    assert report.ok, report.problem
    rows.append((f"verify the export ({summary_entries:,} entries, log verify FILE)", dt, "s"))
    rows.append(("  of which CPU time of this process", dcpu, "s"))
    rows.append(("  CPU time of its worker processes (if any)", _children_cpu() - kids, "s"))
    if "workers" in inspect.signature(verify_export).parameters:
        t, cpu = time.perf_counter(), time.process_time()
        alone = verify_export(export, pem, workers=0)  # type: ignore[call-arg]
        one_dt, one_cpu = time.perf_counter() - t, time.process_time() - cpu
        assert alone == report
        rows.append(("verify the export in this process only (workers=0)", one_dt, "s"))
        rows.append(("  of which CPU time of this process", one_cpu, "s"))
        workers = min(len(os.sched_getaffinity(0)), 4)
        t, cpu, kids = time.perf_counter(), time.process_time(), _children_cpu()
        split = verify_export(export, pem, workers=workers)  # type: ignore[call-arg]
        dt_w, cpu_w = time.perf_counter() - t, time.process_time() - cpu
        assert split == report
        rows.append((f"verify the export with workers={workers} (whatever the load)", dt_w, "s"))
        rows.append(("  of which CPU time of this process", cpu_w, "s"))
        rows.append(("  CPU time of its worker processes", _children_cpu() - kids, "s"))
    t, cpu = time.perf_counter(), time.process_time()
    tree = MemoryTree()
    with export.open("rb") as fh:
        for line in fh:
            record = json.loads(line)
            if record["type"] == "entry":
                tree.append(leaf_hash(canonical_json(record["entry"])))
    root = tree.root()
    base_dt, base_cpu = time.perf_counter() - t, time.process_time() - cpu
    assert root.hex() == summary_root
    rows.append(("baseline: parse + hash every entry into the root, nothing else", base_dt, "s"))
    rows.append(("  of which CPU time of this process", base_cpu, "s"))
    rows.append(("verify / baseline (wall)", dt / base_dt, "x"))
    rows.append(("verify / baseline (CPU)", dcpu / base_cpu, "x"))
    if tiles_too:
        t = time.perf_counter()
        got = verify_tiles(directory_reader(tiles), parse_vkey(vkey))
        assert got.entries == summary_entries
        rows.append(
            ("verify the tiles (python -m skyfence.transparency tiles)", time.perf_counter() - t,
             "s")
        )  # fmt: skip
    return rows


def _postgres(base: Path, url: str, total: int, batch: int) -> list[tuple[str, float, str]]:
    import uuid

    schema = f"bench_c2sp_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    scoped = sa.engine.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        (base / "pg").mkdir()
        return bench_appends(
            base / "pg", total, batch, scoped.render_as_string(hide_password=False), "PostgreSQL"
        )
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=1_000_000, help="entries in the export")
    parser.add_argument("--appends", type=int, default=20_000, help="entries appended in batches")
    parser.add_argument("--batch", type=int, default=100, help="entries per append transaction")
    parser.add_argument(
        "--postgres", help="also time appends on this PostgreSQL URL (a new schema)"
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        help="keep the big log, its export and tiles in this directory, and reuse them when "
        "a run finds them there (building a 1,000,000-entry log takes minutes)",
    )
    parser.add_argument("--no-tiles", action="store_true", help="skip writing/verifying tiles")
    parser.add_argument("--skip-appends", action="store_true", help="only the verification")
    args = parser.parse_args(argv)
    print(f"{'measurement':<78}  {'value':>14}  unit", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if not args.skip_appends:
            rows = bench_appends(base, args.appends, args.batch)
            (base / "b").mkdir()
            rows += bench_appends(base / "b", args.appends, 1000)
            if args.postgres:
                rows += _postgres(base, args.postgres, args.appends, args.batch)
        if args.big <= 0:
            return 0
        big_dir = base
        if args.reuse is not None:
            args.reuse.mkdir(parents=True, exist_ok=True)
            big_dir = args.reuse
        bench_verify(big_dir, args.big, 10_000, reuse=args.reuse is not None,
                     tiles_too=not args.no_tiles)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
