"""Load on ``skyfence serve`` over loopback, beside the same work in-process (the baseline,
measured in the same run).

    python bench/service_load.py [--duration 60] [--workers 1 2] [--postgres URL] [--rate 1000]

For each database (SQLite; PostgreSQL with ``--postgres``) and worker count, a fresh store
with a three-country policy and a terminal-gateway token, then a server process
(``skyfence serve --rate-limit 0``) and an asyncio + httpx load generator in this process:

* single decisions, open loop at ``--rate`` requests/s for ``--duration`` s: achieved rate,
  p50 / p99 latency, errors;
* batches of 10,000 rows (JSON, then Arrow) back to back for ``--duration`` s: decisions/s
  end to end, p50 / p99 per request.

In-process: ``app.decide.decide`` one call at a time, and ``decide_batch`` of 10,000 rows, on
the same store (shared, as the service shares it). Prints one table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

POLICY = {
    "rules": [
        {"id": "pl", "region": "PL", "state": "active"},
        {"id": "ua", "region": "UA", "state": "suspended"},
        {"id": "de", "region": "DE", "state": "active"},
    ]
}
BATCH = 10_000
ARROW = "application/vnd.apache.arrow.stream"


def rows(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "terminal_id": np.char.add("T", rng.integers(0, 1000, n).astype(str)).astype(object),
        "lat": rng.uniform(45, 56, n).round(5),
        "lon": rng.uniform(5, 40, n).round(5),
    }


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


class RawConnection:
    """One HTTP/1.1 keep-alive connection, written and read by hand: the generator's cost per
    request is a few tens of microseconds, so it does not become the bottleneck it measures
    (httpx's AsyncClient costs about a millisecond of CPU a request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> RawConnection:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 24)
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send ``head`` (request line and headers, without Content-Length) and ``body``;
        the status and the body of the answer."""
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def request_head(method: str, path: str, token: str | None, ctype: str = "application/json",
                 accept: str = "application/json") -> bytes:  # fmt: skip
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {ctype}\r\n"
            f"Accept: {accept}\r\n").encode()  # fmt: skip


def setup(url: str | None, home: Path) -> tuple[Any, str, dict[str, str]]:
    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.app.identity import Principal
    from skyfence.app.tokens import create
    from skyfence.settings import load_settings

    cache = Path(os.environ.get("SKYFENCE_CACHE_DIR", "/tmp/skyfence-test-cache"))
    db = url or f"sqlite:///{home / 'store.db'}"
    app = App(load_settings(data_dir=home / "data", database_url=db, cache_dir=cache))
    me = Principal.local("bench", os_user="bench")
    propose(app, me, POLICY, reason="bench")
    token = create(app, me, "gateway", ["terminal-gateway"]).token
    env = {**os.environ, "SKYFENCE_DATA_DIR": str(home / "data"), "SKYFENCE_DATABASE_URL": db,
           "SKYFENCE_CACHE_DIR": str(cache)}  # fmt: skip
    return app, token, env


def in_process(app: Any, seconds: float) -> dict[str, float]:
    from skyfence.app._store import share_store
    from skyfence.app.decide import decide, decide_batch
    from skyfence.app.identity import Principal

    share_store(app)
    me = Principal.from_token("gateway", ["terminal-gateway"])
    decide(app, me, "T1", 52.0, 21.0)
    lat: list[float] = []
    end = time.perf_counter() + seconds / 4
    while time.perf_counter() < end:
        t = time.perf_counter()
        decide(app, me, "T1", 52.0, 21.0)
        lat.append(time.perf_counter() - t)
    table = {**rows(BATCH, 1), "time": np.datetime64("now", "ns")}
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 4:
        decide_batch(app, me, table)
        n += BATCH
    return {"single_p50": pct(lat, 50), "single_p99": pct(lat, 99), "single_rps": len(lat) / (seconds / 4),
            "batch_dps": n / (time.perf_counter() - t0)}  # fmt: skip


def start(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "skyfence.cli.main", "serve", "--port", str(port), "--workers",
         str(workers), "--rate-limit", "0", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def floor(base: str) -> float:
    """p50 of ``GET /healthz`` one at a time: the transport's own cost on this machine now
    (no token, no database)."""

    async def run() -> float:
        conn = await RawConnection.open(base)
        head = request_head("GET", "/healthz", None)
        lat = []
        for _ in range(200):
            t = time.perf_counter()
            await conn.request(head)
            lat.append(time.perf_counter() - t)
        conn.close()
        return pct(lat[10:], 50)

    return asyncio.run(run())


class Pool:
    """Keep-alive connections to the server: an idle one is reused, else a new one is opened
    (at most ``cap``; past that a request waits for one, and the wait counts in its latency)."""

    def __init__(self, base: str, cap: int = 256) -> None:
        self.base, self.cap, self.opened = base, cap, 0
        self.idle: asyncio.Queue[RawConnection] = asyncio.Queue()

    async def get(self) -> RawConnection:
        if self.idle.empty() and self.opened < self.cap:
            self.opened += 1
            return await RawConnection.open(self.base)
        return await self.idle.get()

    def put(self, conn: RawConnection) -> None:
        self.idle.put_nowait(conn)

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def open_loop(base: str, rate: float, seconds: float,
                    make: Any) -> dict[str, float]:  # fmt: skip
    """Requests ``make(i) -> (head, body)`` sent at ``rate`` per second for ``seconds``, each
    at its scheduled time whatever the earlier ones are doing (an open loop). The latency of
    a request runs from its scheduled time to the end of its answer, so a server that falls
    behind shows it in the latency (no coordinated omission)."""
    pool = Pool(base)
    lat: list[float] = []
    errors = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors
        head, body = make(i)
        try:
            conn = await pool.get()
            status, _ = await conn.request(head, body)
            pool.put(conn)
            errors += status not in (200, 201)
        except (OSError, asyncio.IncompleteReadError):
            errors += 1
        lat.append(time.perf_counter() - due)

    for i in range(20):  # warm up
        await one(-1 - i, time.perf_counter())
    lat.clear()
    errors = 0
    tasks = []
    t0 = time.perf_counter()
    i = 0
    while (now := time.perf_counter() - t0) < seconds:
        due = int(now * rate) + 1
        while i < due:
            tasks.append(asyncio.create_task(one(i, t0 + i / rate)))
            i += 1
        await asyncio.sleep(max(0.0, (i / rate) - (time.perf_counter() - t0)))
    # bounded: what has not answered 5 s after the last request was sent is an error
    done, late = await asyncio.wait(tasks, timeout=5.0) if tasks else (set(), set())
    for task in late:
        task.cancel()
    elapsed = time.perf_counter() - t0
    pool.close()
    del done
    return {"rps": len(lat) / elapsed, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "errors": errors + len(late), "sent": i}  # fmt: skip


def decision_request(token: str) -> Any:
    import json

    head = request_head("POST", "/v1/decisions", token)

    def make(i: int) -> tuple[bytes, bytes]:
        j = abs(i)
        body = {"terminal_id": f"T{j % 1000}", "latitude_deg": 45 + (j % 1100) / 100,
                "longitude_deg": 5 + (j % 3500) / 100}  # fmt: skip
        return head, json.dumps(body).encode()

    return make


async def single_load(base: str, token: str, rate: float, seconds: float) -> dict[str, float]:
    return await open_loop(base, rate, seconds, decision_request(token))


def batch_bodies() -> tuple[bytes, bytes]:
    import json

    import pyarrow as pa

    cols = rows(BATCH, 2)
    body = json.dumps({"rows": [
        {"terminal_id": t, "latitude_deg": a, "longitude_deg": o}
        for t, a, o in zip(cols["terminal_id"].tolist(), cols["lat"].tolist(), cols["lon"].tolist(),
                           strict=True)]}).encode()  # fmt: skip
    table = pa.table({"terminal_id": pa.array(cols["terminal_id"].tolist(), pa.string()),
                      "latitude_deg": cols["lat"], "longitude_deg": cols["lon"]})  # fmt: skip
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return body, sink.getvalue().to_pybytes()


async def batch_load(base: str, token: str, body: bytes, ctype: str, seconds: float,
                     concurrency: int) -> dict[str, float]:  # fmt: skip
    """Batches back to back on ``concurrency`` connections (a closed loop)."""
    head = request_head("POST", "/v1/decisions/batch", token, ctype, ctype)
    lat: list[float] = []
    errors = 0
    first = await RawConnection.open(base)
    await first.request(head, body)
    first.close()
    t0 = time.perf_counter()

    async def worker() -> None:
        nonlocal errors
        conn = await RawConnection.open(base)
        while time.perf_counter() - t0 < seconds:
            t = time.perf_counter()
            status, _ = await conn.request(head, body)
            lat.append(time.perf_counter() - t)
            errors += status != 200
        conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    return {"dps": len(lat) * BATCH / elapsed, "p50": pct(lat, 50), "p99": pct(lat, 99),
            "errors": errors}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds per load run")
    p.add_argument("--rate", type=float, default=1000.0, help="single decisions per second")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    args = p.parse_args()
    json_body, arrow_body = batch_bodies()
    out: list[str] = []
    backends = [("sqlite", None)] + ([("postgresql", args.postgres)] if args.postgres else [])
    for name, url in backends:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            if url is not None:
                url = _fresh_schema(url)
            app, token, env = setup(url, home)
            base_line = in_process(app, args.duration)
            from skyfence.app._store import release_store

            release_store(app)
            out.append(f"| {name} | in-process | {base_line['single_rps']:,.0f} calls/s (one at a time) "
                       f"| {base_line['single_p50']*1e3:.2f} / {base_line['single_p99']*1e3:.2f} | "
                       f"— | {base_line['batch_dps']:,.0f} | — | — |")  # fmt: skip
            for workers in args.workers:
                proc, base = start(env, workers)
                try:
                    f = floor(base)
                    s = asyncio.run(single_load(base, token, args.rate, args.duration))
                    j = asyncio.run(batch_load(base, token, json_body, "application/json",
                                               args.duration / 2, workers))  # fmt: skip
                    a = asyncio.run(batch_load(base, token, arrow_body, ARROW, args.duration / 2,
                                               workers))  # fmt: skip
                finally:
                    proc.terminate()
                    proc.wait(20)
                out.append(
                    f"| {name} | {workers} worker{'s' if workers > 1 else ''} | {s['rps']:,.0f} of "
                    f"{args.rate:,.0f} req/s, {s['errors']} errors | {s['p50'] * 1e3:.2f} / "
                    f"{s['p99'] * 1e3:.2f} | {f * 1e3:.2f} | {j['dps']:,.0f} (p50 {j['p50'] * 1e3:.0f} ms) | "
                    f"{a['dps']:,.0f} (p50 {a['p50'] * 1e3:.0f} ms) | "
                    f"{base_line['batch_dps'] / max(a['dps'], 1):.1f}× |"
                )
                print(out[-1], flush=True)
    print(
        "\n| database | server | single decisions | p50 / p99 ms | /healthz p50 ms "
        "| batch JSON decisions/s | batch Arrow decisions/s | in-process / Arrow |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(out))
    print(f"\n(load average {os.getloadavg()[0]:.1f} at the end; one run each)")


def _fresh_schema(base: str) -> str:
    import uuid

    import sqlalchemy as sa

    schema = f"skyfence_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
