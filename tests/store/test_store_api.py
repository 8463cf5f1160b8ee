"""The store contract: policy versions, two-person rule, terminals, transactions, migrations."""

from __future__ import annotations

import json
import stat
import threading
from datetime import datetime

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from skyfence.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from skyfence.settings import load_settings
from skyfence.store import Store, canonical_hash
from skyfence.store.models import Base, PendingChangeRow, PolicyVersionRow
from skyfence.store.tlog import TransparencyLog


def test_migrations_match_the_models(store, store_url):
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0001"
    finally:
        engine.dispose()


def test_open_twice_is_idempotent(make_store):
    a = make_store()
    a.apply_policy({"v": 1}, operator="alice", reason="r", requires_approval=False)
    b = make_store()  # migrations already at head: nothing to do, data kept
    assert b.policy_document_at() == {"v": 1}


def test_apply_and_time_travel(store, clock):
    assert store.policy_document_at() is None
    t0 = np.datetime64(clock.now, "ns")
    r1 = store.apply_policy({"v": 1}, operator="alice", reason="first", requires_approval=False)
    assert (r1.status, r1.version) == ("applied", 1)
    clock.advance(3600)
    r2 = store.apply_policy({"v": 2}, operator="bob", reason="second", requires_approval=False)
    assert r2.version == 2 and r2.change_id != r1.change_id
    assert store.policy_document_at(t0 - np.timedelta64(1, "s")) is None
    assert store.policy_document_at(t0) == {"v": 1}
    assert store.policy_document_at(t0 + np.timedelta64(3599, "s")) == {"v": 1}
    assert store.policy_document_at("2026-02-22T13:00:00Z") == {"v": 2}
    assert store.policy_document_at() == {"v": 2}
    assert store.policy_version_at(t0) == 1
    versions = store.policy_versions()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].document_hash == canonical_hash({"v": 1})
    assert versions[1].applied_at == t0 + np.timedelta64(3600, "s")
    assert store.policy_document(1) == {"v": 1}
    with pytest.raises(NotFoundError, match="no policy version 9"):
        store.policy_document(9)


def test_every_change_is_logged_with_author_and_reason(store):
    doc = {"name": "ukraine whitelist", "rules": [{"country": "UA", "state": "whitelist"}]}
    r = store.apply_policy(doc, operator="alice", reason="regulator order", requires_approval=False)
    entry = store.log.entry(r.log_index)
    assert entry.kind == "policy.apply"
    assert (entry.author, entry.reason) == ("alice", "regulator order")
    assert entry.entry["data"]["document"] == doc
    assert entry.entry["data"]["document_hash"] == canonical_hash(doc)
    # a checkpoint was signed for the new head in the same transaction
    assert store.log.latest_checkpoint().tree_size == store.log.size()


def test_two_person_rule(store, clock):
    r = store.apply_policy(
        {"v": 1}, operator="alice", reason="needs review", requires_approval=True
    )
    assert r.status == "pending" and r.version is None
    assert store.policy_document_at() is None
    pending = store.pending_changes()
    assert [(p.id, p.operator, p.summary) for p in pending] == [
        (r.change_id, "alice", f"policy document {canonical_hash({'v': 1})[:12]}")
    ]
    with pytest.raises(PermissionDeniedError, match="cannot also approve"):
        store.approve(r.change_id, operator="alice")
    assert store.policy_document_at() is None
    clock.advance(60)
    a = store.approve(r.change_id, operator="bob", reason="looks right")
    assert (a.status, a.version, a.change_id) == ("applied", 1, r.change_id)
    assert store.policy_document_at() == {"v": 1}
    assert store.pending_changes() == []
    v = store.policy_versions()[0]
    assert (v.operator, v.approved_by) == ("alice", "bob")
    assert v.applied_at == np.datetime64(clock.now, "ns")
    kinds = [e.kind for e in store.log.entries()]
    assert kinds.count("policy.request") == 1 and kinds.count("policy.approve") == 1
    with pytest.raises(ConflictError, match="is applied, not pending"):
        store.approve(r.change_id, operator="carol")


def test_expired_change_never_takes_effect(store, clock):
    r = store.apply_policy(
        {"v": 1}, operator="alice", reason="r", requires_approval=True, expires_after_s=3600
    )
    clock.advance(3600)  # expiry is exclusive: at expires_at it is already too late
    assert store.pending_changes() == []
    with pytest.raises(ConflictError, match="expired"):
        store.approve(r.change_id, operator="bob")
    change = store.change(r.change_id)
    assert change.status == "expired"
    assert store.policy_document_at() is None and store.policy_versions() == []
    assert store.log.entries()[-1].kind == "policy.expire"
    with pytest.raises(ConflictError, match="is expired, not pending"):
        store.approve(r.change_id, operator="bob")


def test_expire_overdue_and_reject(store, clock):
    a = store.apply_policy(
        {"a": 1}, operator="alice", reason="", requires_approval=True, expires_after_s=10
    )
    b = store.apply_policy({"b": 1}, operator="alice", reason="", requires_approval=True)
    clock.advance(11)
    assert store.expire_overdue() == [a.change_id]
    store.reject(b.change_id, operator="bob", reason="no")
    assert [c.status for c in store.changes()] == ["expired", "rejected"]
    assert store.changes("rejected")[0].approved_by == "bob"
    with pytest.raises(InputError, match="choose one of: pending, applied"):
        store.changes("done")
    with pytest.raises(NotFoundError, match="no change 99"):
        store.approve(99, operator="bob")


def test_terminals(store, clock):
    rec = {
        "id": "UT-1",
        "country": "UA",
        "plan": "roam",
        "whitelists": ["mod-ua"],
        "speed_exempt": True,
        "extra": {"x": 1.5},
    }
    i = store.put_terminal(rec, operator="alice", reason="registered")
    assert store.get_terminal("UT-1") == rec
    clock.advance(1)
    rec2 = dict(rec, plan="standard")
    j = store.put_terminal(rec2, operator="bob", reason="plan change")
    store.put_terminal({"id": "UT-0"}, operator="bob", reason="new")
    assert j > i
    assert store.terminals() == [{"id": "UT-0"}, rec2]
    assert store.terminals(country="UA") == [rec2]
    e = store.log.entry(j)
    assert e.kind == "terminal.put" and e.entry["data"]["created"] is False
    store.delete_terminal("UT-0", operator="bob", reason="returned")
    with pytest.raises(NotFoundError, match="no terminal 'UT-0'"):
        store.get_terminal("UT-0")
    with pytest.raises(InputError, match="non-empty string 'id'"):
        store.put_terminal({"country": "UA"}, operator="a", reason="r")
    with pytest.raises(InputError, match="whitelists"):
        store.put_terminal({"id": "x", "whitelists": "a"}, operator="a", reason="r")
    assert store.operators() == ["alice", "bob"]


def test_bad_inputs_are_refused_before_anything_is_written(store):
    with pytest.raises(InputError, match="canonical JSON"):
        store.apply_policy({"x": float("nan")}, operator="a", reason="r", requires_approval=False)
    with pytest.raises(InputError, match="operator must be a non-empty"):
        store.apply_policy({"x": 1}, operator=" ", reason="r", requires_approval=False)
    with pytest.raises(InputError, match="a policy document is a dict"):
        store.apply_policy([1], operator="a", reason="r", requires_approval=False)
    assert store.log.size() == 0 and store.changes() == []


def test_a_crash_mid_write_leaves_the_previous_state(store, monkeypatch):
    store.apply_policy({"v": 1}, operator="alice", reason="r", requires_approval=False)
    size, root = store.log.size(), store.log.root()
    checkpoints = len(store.log.checkpoints())

    real_sign = TransparencyLog._sign

    def crash(self, session, appender, now, **kw):
        # the change row, the version row and the log entry rows are already flushed
        assert (
            session.execute(sa.select(sa.func.count()).select_from(PolicyVersionRow)).scalar() == 2
        )
        raise RuntimeError("power cut")

    monkeypatch.setattr(TransparencyLog, "_sign", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        store.apply_policy({"v": 2}, operator="alice", reason="r", requires_approval=False)
    monkeypatch.setattr(TransparencyLog, "_sign", real_sign)
    assert store.policy_document_at() == {"v": 1}
    assert [c.id for c in store.changes()] == [1]
    assert (store.log.size(), store.log.root()) == (size, root)
    assert len(store.log.checkpoints()) == checkpoints
    assert store.log.verify().ok
    # and the store goes on from the previous state
    r = store.apply_policy({"v": 3}, operator="alice", reason="r", requires_approval=False)
    assert r.version == 2 and store.log.verify().ok


def test_concurrent_writers_do_not_fork_the_log(make_store):
    stores = [make_store() for _ in range(4)]
    errors: list[BaseException] = []

    def work(s: Store, who: int) -> None:
        try:
            for i in range(8):
                s.put_terminal({"id": f"T{who}-{i}"}, operator=f"op{who}", reason="load")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    log = stores[0].log
    entries = log.entries(0, None)
    terminal_entries = [e for e in entries if e.kind == "terminal.put"]
    assert len(terminal_entries) == 32
    assert [e.index for e in entries] == list(range(log.size()))
    assert len(stores[0].terminals()) == 32
    report = log.verify()
    assert report.ok, report.problem
    sizes = [c.tree_size for c in log.checkpoints()]
    assert sizes == sorted(sizes)


def test_store_open_uses_settings_and_protects_the_key(isolated_env, monkeypatch):
    settings = load_settings()
    with Store.open(settings=settings) as store:
        store.apply_policy({"v": 1}, operator="a", reason="r", requires_approval=False)
        key_id = store.log.latest_checkpoint().key_id
    db = settings.data_dir / "skyfence.db"
    assert db.exists()
    key_file = settings.data_dir / "keys" / f"log-{key_id}.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    key_file.chmod(0o644)
    with (
        Store.open(settings=settings) as store,
        pytest.raises(ConfigurationError, match="chmod 600"),
    ):
        store.apply_policy({"v": 2}, operator="a", reason="r", requires_approval=False)


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigurationError, match="choose one of: sqlite, postgresql"):
        Store.open("mysql://x@localhost/db", key_dir="/nonexistent")


def test_frozen_clock_times_are_stored_exactly(store, clock):
    clock.now = datetime(2026, 2, 22, 12, 0, 0, 123456)
    r = store.apply_policy(
        {"v": 1}, operator="a", reason="r", requires_approval=True, expires_after_s=1.5
    )
    c = store.change(r.change_id)
    assert c.created_at == np.datetime64("2026-02-22T12:00:00.123456", "ns")
    assert c.expires_at == np.datetime64("2026-02-22T12:00:01.623456", "ns")
    assert json.loads(json.dumps(store.log.entry(r.log_index).entry))["time"] == (
        "2026-02-22T12:00:00.123456Z"
    )


def test_rows_are_what_the_api_says(store, store_url):
    r = store.apply_policy({"v": 1}, operator="alice", reason="r", requires_approval=True)
    store.approve(r.change_id, operator="bob")
    engine = sa.create_engine(store_url)
    try:
        with sa.orm.Session(engine) as s:
            row = s.get(PendingChangeRow, r.change_id)
            assert (row.status, row.created_by, row.approved_by, row.version) == (
                "applied",
                "alice",
                "bob",
                1,
            )
    finally:
        engine.dispose()


def test_put_terminals_is_one_transaction(store):
    before = len(store.log.checkpoints())
    indices = store.put_terminals(
        [{"id": "A"}, {"id": "B", "country": "UA"}, {"id": "A", "plan": "roam"}],
        operator="alice",
        reason="import",
    )
    assert len(indices) == 3 and indices == sorted(indices)
    assert store.terminals() == [{"id": "A", "plan": "roam"}, {"id": "B", "country": "UA"}]
    assert len(store.log.checkpoints()) == before + 1
    size = store.log.size()
    with pytest.raises(InputError, match="speed_exempt"):
        store.put_terminals(
            [{"id": "C"}, {"id": "D", "speed_exempt": "yes"}], operator="alice", reason="r"
        )
    assert store.log.size() == size and len(store.terminals()) == 2


CRASHING_WRITER = """
import os, sys
from skyfence.store import Store
from skyfence.store.tlog import TransparencyLog
url, keys = sys.argv[1], sys.argv[2]
store = Store.open(url, key_dir=keys)
store.apply_policy({"v": 1}, operator="alice", reason="r", requires_approval=False)
def die(*args, **kwargs):
    os._exit(3)  # the process dies mid-transaction: rows written, nothing committed
TransparencyLog._sign = die
store.apply_policy({"v": 2}, operator="alice", reason="r", requires_approval=False)
"""


def test_a_killed_process_leaves_the_previous_state(store_url, tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", CRASHING_WRITER, store_url, str(tmp_path / "keys")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    with Store.open(store_url, key_dir=tmp_path / "keys") as store:  # wall clock, as the child
        assert store.policy_document_at() == {"v": 1}
        assert [v.version for v in store.policy_versions()] == [1]
        assert store.log.verify().ok
        assert (
            store.apply_policy(
                {"v": 3}, operator="bob", reason="r", requires_approval=False
            ).version
            == 2
        )
