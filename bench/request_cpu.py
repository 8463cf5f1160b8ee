"""CPU time of one single-decision request's application work, in-process: what the
service's fast path does per request (check the token, then decide), without HTTP.

    python bench/request_cpu.py [--calls 3000] [--postgres URL]

For each database (SQLite; PostgreSQL with ``--postgres``, in a new ``skyfence_bench_*``
schema dropped at the end), a store set up as ``bench/service_load.py`` sets it up, opened
once (``share_store``), then three loops of ``--calls`` calls each, CPU time per call:

* ``decide`` at one place (the policy snapshot reused: one read of the log head row);
* ``authenticate`` then ``decide``, as the fast path does (inside ``one_head`` where the
  code has it: one read of the head row for both; else one read each);
* the same right after a proposal every 50 requests (a moved head: the snapshot and the
  token are read again).

Run it with ``PYTHONPATH`` pointing at another checkout's ``src`` to measure that code with
the same script (``one_head`` is then used only if that code has it).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service_load import POLICY, _fresh_schema, change_document, setup


def per_call(f: Callable[[int], Any], calls: int) -> float:
    """CPU milliseconds per call of ``f(i)``."""
    c0 = time.process_time()
    for i in range(calls):
        f(i)
    return (time.process_time() - c0) / calls * 1e3


def measure(url: str | None, calls: int) -> dict[str, float]:
    from skyfence.app import _store
    from skyfence.app.changes import propose
    from skyfence.app.decide import decide
    from skyfence.app.identity import Principal
    from skyfence.app.tokens import authenticate

    app, tokens, _env = setup(url, Path(tempfile.mkdtemp()))
    _store.share_store(app)
    one_head: Callable[[Any], Any] = getattr(
        _store, "one_head", lambda _app: contextlib.nullcontext()
    )
    gateway = Principal.from_token("gateway", ["terminal-gateway"])
    operator = Principal.from_token("operator", ["operator"])
    token = tokens["gateway"]

    def request(_i: int) -> None:
        with one_head(app):
            principal = authenticate(app, token)
            decide(app, principal, "T1", 52.0, 21.0)

    def moving(i: int) -> None:
        if i % 50 == 0:
            propose(app, operator, change_document(i), reason="bench", request_review=True)
        request(i)

    try:
        for i in range(50):
            request(i)
        out = {
            "decide": per_call(lambda _i: decide(app, gateway, "T1", 52.0, 21.0), calls),
            "request": per_call(request, calls),
        }
        c0 = time.process_time()
        for i in range(50):  # the proposals alone, to take them out of the loop below
            propose(app, operator, change_document(10_000 + i), reason="b", request_review=True)
        proposal = (time.process_time() - c0) / 50 * 1e3
        out["moving"] = per_call(moving, calls) - proposal / 50
        return out
    finally:
        _store.release_store(app)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--calls", type=int, default=3000)
    p.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    args = p.parse_args()
    print(f"policy: {len(POLICY['rules'])} rules; {args.calls} calls a loop\n")
    print("| database | decide, CPU ms | token + decide, CPU ms | token + decide, a proposal "
          "every 50, CPU ms |\n|---|---:|---:|---:|")  # fmt: skip
    backends = [("sqlite", None)] + ([("postgresql", args.postgres)] if args.postgres else [])
    for name, url in backends:
        with contextlib.ExitStack() as cleanup:
            if url is not None:
                url = _fresh_schema(url, cleanup)
            r = measure(url, args.calls)
        print(f"| {name} | {r['decide']:.3f} | {r['request']:.3f} | {r['moving']:.3f} |")


if __name__ == "__main__":
    main()
