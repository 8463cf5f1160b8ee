"""Crash safety and concurrency, kept as tests: a writer killed with SIGKILL at a random
moment of applying or approving never leaves a mixed state; of concurrent approvals of one
change exactly one wins; ten concurrent writers see no errors and fork nothing. On SQLite
and, with ``SKYFENCE_TEST_POSTGRES_URL``, PostgreSQL. Bounded: a few kills, seconds each.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from skyfence.errors import ConflictError
from skyfence.store import Store

WRITER = textwrap.dedent(
    """
    import random, sys
    from skyfence.store import Store
    url, keys, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store.open(url, key_dir=keys)
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        base = store.state().policy_version
        region = random.choice(["PL", "CZ", "SK", "HU", "RO", "LT", "LV", "EE"])
        doc = {"name": f"w{i}-{random.random()}", "rules": [
            {"id": "r1", "region": region, "state": "active", "sensitive": mode == "approve"}]}
        res = store.apply_policy(doc, actor="alice", reason=f"round {i}", base_version=base,
                                 request_review=mode == "approve")
        if mode == "approve":
            store.approve(res.change_id, actor="bob", reason="ok")
        store.put_terminal({"id": f"T{i % 7}", "n": i}, actor="carol", reason="r")
    """
)


def _consistent(url: str, keys: Path) -> int:
    with Store.open(url, key_dir=keys) as store:
        report = store.verify()
        assert report.ok, report.problem
        state = store.check_state()
        assert [v.version for v in store.policy_versions()] == list(
            range(1, state.policy_version + 1)
        )
        for change in store.changes():
            if change.status == "applied":
                assert change.version is not None
        return store.log.size()


@pytest.mark.parametrize("mode", ["apply", "approve"])
def test_sigkill_during_writes_never_leaves_a_mixed_state(store_url, tmp_path, mode):
    keys = tmp_path / "keys"
    with Store.open(store_url, key_dir=keys) as store:  # alice and bob share this OS account
        store.set_setting("require_distinct_os_users", False, actor="admin", reason="test")
    rng = random.Random(17)
    sizes = []
    for _ in range(4):
        with subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, str(keys), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            try:
                assert child.stdout is not None and child.stderr is not None
                assert child.stdout.readline().strip() == "ready", child.stderr.read()
                time.sleep(rng.uniform(0.2, 1.2))
                child.send_signal(signal.SIGKILL)
                child.wait(timeout=30)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait()
            assert child.returncode == -signal.SIGKILL, child.stderr.read()[-500:]
        sizes.append(_consistent(store_url, keys))
    assert sizes == sorted(sizes) and sizes[-1] > 0  # work was done, and kept


def test_concurrent_approvals_exactly_one_wins(make_store):
    first = make_store()
    doc = {
        "name": "s",
        "rules": [{"id": "r1", "region": "PL", "state": "active", "sensitive": True}],
    }
    change = first.apply_policy(doc, actor="alice", reason="r", base_version=0).change_id
    stores = [make_store() for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[object] = [None] * len(stores)

    def approve(k: int) -> None:
        barrier.wait()
        try:
            outcomes[k] = stores[k].approve(change, actor=f"approver{k}", reason="race")
        except ConflictError as exc:
            outcomes[k] = exc

    threads = [threading.Thread(target=approve, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [o for o in outcomes if not isinstance(o, ConflictError)]
    losses = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(wins) == 1 and len(losses) == len(stores) - 1, outcomes
    assert all("is applied, not pending" in str(e) for e in losses)
    assert [v.version for v in first.policy_versions()] == [1]
    assert first.verify().ok


def test_ten_concurrent_writers_see_no_errors(make_store):
    stores = [make_store() for _ in range(10)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def work(k: int) -> None:
        try:
            barrier.wait()
            for i in range(5):
                stores[k].put_terminal({"id": f"W{k}-{i}"}, actor=f"op{k}", reason="load")
                stores[k].log.append("note", {"k": k, "i": i}, author=f"op{k}", reason="note")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(stores[0].terminals()) == 50
    report = stores[0].verify()
    assert report.ok, report.problem
    assert stores[0].log.latest_checkpoint().tree_size == stores[0].log.size()
