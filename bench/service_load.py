"""Load on ``skyfence serve`` over loopback, beside the same work in-process (the baseline,
measured in the same run).

    python bench/service_load.py [--duration 60] [--workers 1 2] [--postgres URL] [--rate 1000]
                                 [--change-rate 50]

For each database (SQLite; PostgreSQL with ``--postgres``) and worker count, a fresh store
with a three-country policy and terminal-gateway, operator and approver tokens, then a
server process (``skyfence serve --rate-limit 0``) and an asyncio load generator in this
process (HTTP/1.1 written by hand on keep-alive connections, see :class:`RawConnection`):

* single decisions, open loop at ``--rate`` requests/s for ``--duration`` s: achieved rate,
  p50 / p99 latency from each request's scheduled time, errors, and the server's CPU time
  per decision (all its processes; what a request costs whatever else the machine does);
* batches of 10,000 rows (JSON, then Arrow) back to back for ``--duration`` / 2 s each:
  decisions/s end to end, decisions per server CPU-second, p50 / p99 per request;
* policy changes at ``--change-rate`` (proposals for review and their approvals, by two
  tokens) alone for ``--duration`` / 2 s: sent and answered, conflicts (409: the store's
  compare-and-swap; a refused proposal is sent again), server CPU per change, latencies;
* single decisions at ``--rate`` and policy changes at ``--change-rate`` together for
  ``--duration`` / 2 s, with the server's CPU seconds.

In-process, on the same store opened once as the service opens it: ``app.decide.decide``
one call at a time (at one place, then at the load's places), ``decide_batch`` of 10,000
rows, with wall and CPU time, and proposal + approval pairs one after another (CPU per
change). A PostgreSQL run works in a new ``skyfence_bench_*`` schema, dropped at the end.
The generator's own objects are kept out of its garbage collector's full passes before each
load (see :func:`measure`). Prints four tables; when a load fails, the server's output first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
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
    request is about 0.12 ms of CPU, so it does not become the bottleneck it measures
    (httpx's AsyncClient took 1.9-2.4 ms of CPU a request on the same machine: at 1,000
    requests/s it alone would need both cores)."""

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


def setup(url: str | None, home: Path) -> tuple[Any, dict[str, str], dict[str, str]]:
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
    tokens = {name: create(app, me, name, [role]).token for name, role in
              (("gateway", "terminal-gateway"), ("operator", "operator"),
               ("approver", "approver"))}  # fmt: skip
    env = {**os.environ, "SKYFENCE_DATA_DIR": str(home / "data"), "SKYFENCE_DATABASE_URL": db,
           "SKYFENCE_CACHE_DIR": str(cache)}  # fmt: skip
    return app, tokens, env


def place(i: int) -> tuple[str, float, float]:
    """The terminal and place of single decision ``i``: 1,000 terminals over PL, DE, UA
    and their neighbours, 38,500 places before one repeats (most in an H3 cell not asked
    about before)."""
    j = abs(i)
    return f"T{j % 1000}", 45 + (j % 1100) / 100, 5 + (j % 3500) / 100


def in_process(app: Any, seconds: float) -> dict[str, float]:
    """``decide`` one call at a time (at one place, then at the load's places) and
    ``decide_batch`` of 10,000 rows, on the store opened once as the service opens it;
    wall and CPU time (this process only)."""
    from skyfence.app._store import share_store
    from skyfence.app.decide import decide, decide_batch
    from skyfence.app.identity import Principal

    share_store(app)
    me = Principal.from_token("gateway", ["terminal-gateway"])
    decide(app, me, "T1", 52.0, 21.0)
    out: dict[str, float] = {}
    for name, where in (("one", lambda i: ("T1", 52.0, 21.0)), ("spread", place)):
        lat: list[float] = []
        c0, end, i = time.process_time(), time.perf_counter() + seconds / 6, 0
        while time.perf_counter() < end:
            terminal, la, lo = where(i)
            t = time.perf_counter()
            decide(app, me, terminal, la, lo)
            lat.append(time.perf_counter() - t)
            i += 1
        out[f"{name}_p50"], out[f"{name}_p99"] = pct(lat, 50), pct(lat, 99)
        out[f"{name}_cpu"] = (time.process_time() - c0) / max(len(lat), 1)
    table = {**rows(BATCH, 1), "time": np.datetime64("now", "ns")}
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds / 6:
        decide_batch(app, me, table)
        n += BATCH
    out["batch_dps"] = n / (time.perf_counter() - t0)
    out["batch_cpu_dps"] = n / (time.process_time() - c0)
    out["change_cpu"] = in_process_changes(app, seconds / 6)
    return out


def in_process_changes(app: Any, seconds: float) -> float:
    """CPU seconds of one policy change (a proposal for review or its approval by a
    second principal), in-process on the shared store, pairs one after another."""
    from skyfence.app.changes import approve, propose
    from skyfence.app.identity import Principal

    operator = Principal.from_token("operator", ["operator"])
    approver = Principal.from_token("approver", ["approver"])
    n, c0, end = 0, time.process_time(), time.perf_counter() + seconds
    while n < 4 or time.perf_counter() < end:
        result = propose(app, operator, change_document(-1 - n), reason="bench",
                         request_review=True)  # fmt: skip
        approve(app, approver, result.change_id, reason="bench")
        n += 1
    return (time.process_time() - c0) / (2 * n)


def change_document(i: int) -> dict[str, Any]:
    """The policy change number ``i`` proposes: the bench policy and one more rule."""
    return {"rules": [*POLICY["rules"], {"id": f"x{i}".replace("-", "m"), "region": "DE",
                                         "state": "active"}]}  # fmt: skip


def start(env: dict[str, str], workers: int,
          log: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:  # fmt: skip
    """``skyfence serve`` on a free port of 127.0.0.1 (its output to ``log``)."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with log.open("ab") if log else open(os.devnull, "wb") as out:  # the child keeps its copy
        proc = subprocess.Popen(
            [sys.executable, "-m", "skyfence.cli.main", "serve", "--port", str(port), "--workers",
             str(workers), "--rate-limit", "0", "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
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


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its workers: the
    cost of the requests whatever else the machine is doing (wall time is not, on a shared
    machine)."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / tick

    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return own(pid) + sum(own(k) for k in kids)


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
    errors = ok = 0

    async def one(i: int, due: float) -> None:
        nonlocal errors, ok
        head, body = make(i)
        try:
            conn = await pool.get()
            status, _ = await conn.request(head, body)
            pool.put(conn)
            if status in (200, 201):
                ok += 1
            else:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            errors += 1
        lat.append(time.perf_counter() - due)

    for i in range(20):  # warm up
        await one(-1 - i, time.perf_counter())
    lat.clear()
    errors = ok = 0
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
            "errors": errors + len(late), "sent": i, "ok": ok}  # fmt: skip


def decision_request(token: str) -> Any:
    import json

    head = request_head("POST", "/v1/decisions", token)

    def make(i: int) -> tuple[bytes, bytes]:
        terminal, la, lo = place(i)
        body = {"terminal_id": terminal, "latitude_deg": la, "longitude_deg": lo}
        return head, json.dumps(body).encode()

    return make


async def single_load(base: str, token: str, rate: float, seconds: float) -> dict[str, float]:
    return await open_loop(base, rate, seconds, decision_request(token))


async def change_load(base: str, operator: str, approver: str, rate: float,
                      seconds: float) -> dict[str, float]:  # fmt: skip
    """Policy changes at ``rate`` requests/s: half proposals (pending, for review) by an
    operator, half approvals of those by an approver, each proposal followed by its
    approval. A request refused with 409 because another change was applied meanwhile (a
    proposal whose version in force moved before the store's write, an approval of a change
    built on a version no longer in force) is counted as a conflict, not an error: that is
    the store's compare-and-swap doing its work. A refused proposal is sent again (at most
    three tries, each counted), as a client would, so that every pair still ends in an
    approval request and the offered rate stays at ``rate``."""
    import json

    propose_head = request_head("POST", "/v1/policy/changes", operator)
    pool = Pool(base, cap=64)
    lat: dict[str, list[float]] = {"propose": [], "approve": []}
    counts = {"errors": 0, "conflicts": 0, "sent": 0}

    async def pair(i: int, due: float) -> None:
        body = json.dumps({"document": change_document(i), "reason": f"bench {i}",
                           "request_review": True}).encode()  # fmt: skip
        try:
            conn = await pool.get()
            for attempt in range(3):  # the first from its due time (a late start counts)
                t = due if attempt == 0 else time.perf_counter()
                counts["sent"] += 1
                status, answer = await conn.request(propose_head, body)
                lat["propose"].append(time.perf_counter() - t)
                if status != 409:
                    break
                counts["conflicts"] += 1
            if status not in (201, 202):  # applied, or pending review
                counts["errors"] += status != 409
                pool.put(conn)
                return
            change = json.loads(answer)["change_id"]
            head = request_head("POST", f"/v1/policy/changes/{change}/approve", approver)
            t = time.perf_counter()
            counts["sent"] += 1
            status, _ = await conn.request(head, b'{"reason": "bench"}')
            lat["approve"].append(time.perf_counter() - t)
            pool.put(conn)
            counts["conflicts" if status == 409 else "errors"] += status not in (200,)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            counts["errors"] += 1

    tasks = []
    t0 = time.perf_counter()
    i = 0
    pairs = rate / 2
    while (now := time.perf_counter() - t0) < seconds:
        due = int(now * pairs) + 1
        while i < due:
            tasks.append(asyncio.create_task(pair(i, t0 + i / pairs)))
            i += 1
        await asyncio.sleep(max(0.0, (i / pairs) - (time.perf_counter() - t0)))
    done, late = await asyncio.wait(tasks, timeout=10.0) if tasks else (set(), set())
    for task in late:
        task.cancel()
    elapsed = time.perf_counter() - t0
    pool.close()
    del done
    n = len(lat["propose"]) + len(lat["approve"])
    return {"rps": n / elapsed, "answered": n, "propose_p50": pct(lat["propose"], 50),
            "propose_p99": pct(lat["propose"], 99), "approve_p50": pct(lat["approve"], 50),
            "approve_p99": pct(lat["approve"], 99), "errors": counts["errors"] + len(late),
            "conflicts": counts["conflicts"], "sent": counts["sent"],
            "sent_rps": counts["sent"] / elapsed}  # fmt: skip


async def mixed_load(base: str, tokens: dict[str, str], rate: float, change_rate: float,
                     seconds: float) -> tuple[dict[str, float], dict[str, float]]:  # fmt: skip
    """Single decisions at ``rate`` and policy changes at ``change_rate``, at the same time."""
    single, changes = await asyncio.gather(
        single_load(base, tokens["gateway"], rate, seconds),
        change_load(base, tokens["operator"], tokens["approver"], change_rate, seconds),
    )
    return single, changes


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


def measure(proc: subprocess.Popen[bytes], load: Any) -> tuple[Any, float]:
    """The result of the coroutine ``load`` and the server's CPU seconds (all its
    processes) while it ran.

    The generator's own objects (the store and regions of the in-process baseline) are kept
    out of its garbage collector's full passes first: one such pass over them stalled this
    process for 55-85 ms, and every request due meanwhile counted it as server latency."""
    gc.collect()
    gc.freeze()
    c0 = server_cpu(proc.pid)
    result = asyncio.run(load)
    return result, server_cpu(proc.pid) - c0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60.0, help="seconds per load run")
    p.add_argument("--rate", type=float, default=1000.0, help="single decisions per second")
    p.add_argument("--change-rate", type=float, default=50.0,
                   help="proposals + approvals per second during the mixed run (0: none)")  # fmt: skip
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    p.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL run")
    args = p.parse_args()
    if args.duration <= 0 or args.rate <= 0 or args.change_rate < 0:
        p.error("--duration and --rate must be > 0, --change-rate >= 0")
    json_body, arrow_body = batch_bodies()
    singles: list[str] = []
    batches: list[str] = []
    mixed: list[str] = []
    changes: list[str] = []
    backends = [] if args.skip_sqlite else [("sqlite", None)]
    backends += [("postgresql", args.postgres)] if args.postgres else []
    for name, url in backends:
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as cleanup:
            home = Path(tmp)
            if url is not None:
                url = _fresh_schema(url, cleanup)
            app, tokens, env = setup(url, home)
            base_line = in_process(app, args.duration)
            from skyfence.app._store import release_store

            release_store(app)
            b = base_line
            singles.append(
                f"| {name} | in-process, one place | — | {b['one_p50'] * 1e3:.2f} / "
                f"{b['one_p99'] * 1e3:.2f} | {b['one_cpu'] * 1e3:.2f} | — |"
            )
            singles.append(
                f"| {name} | in-process, the load's places | — | {b['spread_p50'] * 1e3:.2f} / "
                f"{b['spread_p99'] * 1e3:.2f} | {b['spread_cpu'] * 1e3:.2f} | — |"
            )
            batches.append(f"| {name} | in-process `decide_batch` | {b['batch_dps']:,.0f} | "
                           f"{b['batch_cpu_dps']:,.0f} | — | — |")  # fmt: skip
            changes.append(f"| {name} | in-process, one after another | — | "
                           f"{b['change_cpu'] * 1e3:.1f} | — | — |")  # fmt: skip
            for workers in args.workers:
                label = f"{workers} worker{'s' if workers > 1 else ''}"
                server_log = home / f"serve-{workers}.log"
                proc, base = start(env, workers, server_log)
                gw = tokens["gateway"]
                try:
                    f = floor(base)
                    s, s_cpu = measure(proc, single_load(base, gw, args.rate, args.duration))
                    j, j_cpu = measure(proc, batch_load(base, gw, json_body, "application/json",
                                                        args.duration / 2, workers))  # fmt: skip
                    a, a_cpu = measure(proc, batch_load(base, gw, arrow_body, ARROW,
                                                        args.duration / 2, workers))  # fmt: skip
                    m = alone = None
                    if args.change_rate > 0:
                        alone, c_cpu = measure(proc, change_load(
                            base, tokens["operator"], tokens["approver"], args.change_rate,
                            args.duration / 2))  # fmt: skip
                        m, m_cpu = measure(proc, mixed_load(base, tokens, args.rate,
                                                            args.change_rate, args.duration / 2))  # fmt: skip
                except BaseException:  # what the server said, before the generator's traceback
                    print(f"server log ({label}):\n" + server_log.read_text(errors="replace")[-4000:],
                          file=sys.stderr)  # fmt: skip
                    raise
                finally:
                    proc.terminate()
                    proc.wait(20)
                singles.append(
                    f"| {name} | {label} | {s['rps']:,.0f} of {args.rate:,.0f} req/s, "
                    f"{s['errors']} errors | {s['p50'] * 1e3:.2f} / {s['p99'] * 1e3:.2f} | "
                    f"{s_cpu / max(s['ok'], 1) * 1e3:.2f} | {f * 1e3:.2f} |"
                )
                print(singles[-1], flush=True)
                for kind, r, cpu in (("JSON", j, j_cpu), ("Arrow", a, a_cpu)):
                    done = r["dps"] * args.duration / 2
                    batches.append(
                        f"| {name} | {label}, {kind} | {r['dps']:,.0f} | {done / max(cpu, 1e-9):,.0f} "
                        f"| {r['p50'] * 1e3:.0f} / {r['p99'] * 1e3:.0f} | {r['errors']} |"
                    )
                    print(batches[-1], flush=True)
                if alone is not None:
                    c = alone
                    changes.append(
                        f"| {name} | {label} | {c['rps']:.1f} of {c['sent_rps']:.1f}/s sent, "
                        f"{c['errors']} errors, {c['conflicts']} conflicts | "
                        f"{c_cpu / max(c['answered'], 1) * 1e3:.1f} | {c['propose_p50'] * 1e3:.1f} / "
                        f"{c['propose_p99'] * 1e3:.1f} | {c['approve_p50'] * 1e3:.1f} / "
                        f"{c['approve_p99'] * 1e3:.1f} |"
                    )
                    print(changes[-1], flush=True)
                if m is not None:
                    d, c = m
                    mixed.append(
                        f"| {name} | {label} | {d['rps']:,.0f} of {args.rate:,.0f} req/s, "
                        f"{d['errors']} errors | {d['p50'] * 1e3:.2f} / {d['p99'] * 1e3:.2f} | "
                        f"{c['rps']:.1f} of {c['sent_rps']:.1f}/s sent, {c['errors']} errors, "
                        f"{c['conflicts']} conflicts | {c['propose_p50'] * 1e3:.1f} / "
                        f"{c['propose_p99'] * 1e3:.1f} | {c['approve_p50'] * 1e3:.1f} / "
                        f"{c['approve_p99'] * 1e3:.1f} | {m_cpu:.1f} s |"
                    )
                    print(mixed[-1], flush=True)
    print("\nSingle decisions, open loop")
    print("\n| database | server | answered | p50 / p99 ms | server CPU ms a decision "
          "| /healthz p50 ms |\n|---|---|---|---:|---:|---:|")  # fmt: skip
    print("\n".join(singles))
    print("\nBatches of 10,000 rows, back to back")
    print("\n| database | server | decisions/s | decisions per server CPU-second "
          "| p50 / p99 ms a request | errors |\n|---|---|---:|---:|---:|---:|")  # fmt: skip
    print("\n".join(batches))
    if changes:
        print("\nPolicy changes alone (proposals for review and their approvals)")
        print("\n| database | server | changes answered | server CPU ms a change "
              "| propose p50 / p99 ms | approve p50 / p99 ms |\n|---|---|---|---:|---:|---:|")  # fmt: skip
        print("\n".join(changes))
    if mixed:
        print("\nSingle decisions and policy changes at the same time")
        print("\n| database | server | decisions answered | p50 / p99 ms | changes answered "
              "| propose p50 / p99 ms | approve p50 / p99 ms | server CPU |"
              "\n|---|---|---|---:|---|---:|---:|---:|")  # fmt: skip
        print("\n".join(mixed))
    print(f"\n(load average {os.getloadavg()[0]:.1f} at the end; one run each)")


def _fresh_schema(base: str, cleanup: contextlib.ExitStack) -> str:
    """A URL on a new schema of ``base``, dropped (with everything in it) by ``cleanup``."""
    import uuid

    import sqlalchemy as sa

    schema = f"skyfence_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()

    def drop() -> None:
        admin = sa.create_engine(base)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()

    cleanup.callback(drop)
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
