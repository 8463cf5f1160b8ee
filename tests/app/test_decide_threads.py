"""Threads deciding with one engine at once, as a service does (single decisions on its
event loop, batches in worker threads): the interpreter survives and every thread gets the
answers one thread alone gets.

GEOS prepared geometries are not safe to query from two threads at once (shapely releases
the GIL); before ``skyfence.regions._geos.PREPARED`` this run crashed the interpreter
(segmentation fault, or ``malloc(): unaligned tcache chunk``) in most tries. It runs in a
child process so that a crash fails this test instead of the whole suite.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile, threading
    from pathlib import Path
    import numpy as np
    from skyfence.app import App
    from skyfence.app._store import share_store
    from skyfence.app.changes import propose
    from skyfence.app.decide import decide, decide_batch
    from skyfence.app.identity import Principal
    from skyfence.settings import load_settings

    home = Path(tempfile.mkdtemp())
    app = App(load_settings(data_dir=home / "data",
                            database_url=f"sqlite:///{home / 'store.db'}"))
    propose(app, Principal.local("t", os_user="t"), {"rules": [
        {"id": "pl", "region": "PL", "state": "active"},
        {"id": "ua", "region": "UA", "state": "suspended"},
        {"id": "de", "region": "DE", "state": "active"}]}, reason="threads")
    share_store(app)
    me = Principal.from_token("gw", ["terminal-gateway"])

    def table(seed):
        rng = np.random.default_rng(seed)  # 10,000 places over PL, DE, UA and neighbours
        return {"terminal_id": np.array(["T1"] * 10_000, dtype=object),
                "lat": rng.uniform(45, 56, 10_000), "lon": rng.uniform(5, 40, 10_000),
                "time": np.datetime64("now", "ns")}

    ROUNDS = int(sys.argv[1])
    results = {}

    def work(k):
        rng = np.random.default_rng(1000 + k)
        out = []
        for r in range(ROUNDS):
            d = decide_batch(app, me, table(k * ROUNDS + r)).decisions
            out.append((k * ROUNDS + r, d.state.copy(), d.rule.copy()))
            for _ in range(10):
                decide(app, me, "T1", float(rng.uniform(45, 56)), float(rng.uniform(5, 40)))
        results[k] = out

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # the same batches again, one thread alone: the same answers
    for k in range(4):
        for seed, state, rule in results[k][:: max(1, ROUNDS // 5)]:
            d = decide_batch(app, me, table(seed)).decisions
            assert np.array_equal(d.state, state) and np.array_equal(d.rule, rule), seed
    print("ok", sum(len(v) for v in results.values()))
    """
)


def test_four_threads_deciding_with_one_engine_neither_crash_nor_disagree(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, "100"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, (run.returncode, run.stderr[-3000:])
    assert run.stdout.split() == ["ok", "400"]
