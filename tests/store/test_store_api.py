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
from skyfence.store import Actor, Store, canonical_hash
from skyfence.store.models import Base, PendingChangeRow, PolicyVersionRow
from skyfence.store.tlog import TransparencyLog


def test_migrations_match_the_models(store, store_url):
    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0003"
    finally:
        engine.dispose()


def test_open_twice_is_idempotent(make_store, docs):
    a = make_store()
    a.apply_policy(docs.plain("v1"), actor="alice", reason="r", base_version=0)
    b = make_store()  # migrations already at head: nothing to do, data kept
    assert b.policy_document_at() == docs.stored(docs.plain("v1"))


def test_apply_and_time_travel(store, clock, docs):
    assert store.policy_document_at() is None
    t0 = np.datetime64(clock.now, "ns")
    r1 = store.apply_policy(docs.plain("v1"), actor="alice", reason="first", base_version=0)
    assert (r1.status, r1.version, r1.base_version) == ("applied", 1, 0)
    clock.advance(3600)
    r2 = store.apply_policy(
        docs.plain("v2", region="CZ"), actor="bob", reason="second", base_version=1
    )
    assert r2.version == 2 and r2.change_id != r1.change_id
    assert [(c["id"], c["change"], c["fields"]) for c in r2.changes] == [
        ("r1", "changed", ["region"])
    ]
    v1, v2 = docs.stored(docs.plain("v1")), docs.stored(docs.plain("v2", region="CZ"))
    assert store.policy_document_at(t0 - np.timedelta64(1, "s")) is None
    assert store.policy_document_at(t0) == v1
    assert store.policy_document_at(t0 + np.timedelta64(3599, "s")) == v1
    assert store.policy_document_at("2026-02-22T13:00:00Z") == v2
    assert store.policy_document_at() == v2
    assert store.policy_version_at(t0) == 1
    versions = store.policy_versions()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].document_hash == canonical_hash(v1)
    assert versions[1].applied_at == t0 + np.timedelta64(3600, "s")
    assert store.policy_document(1) == v1
    with pytest.raises(NotFoundError, match="no policy version 9"):
        store.policy_document(9)


def test_every_change_is_logged_with_actor_and_reason(store, docs):
    document = docs.plain("ukraine whitelist", region="UA")
    r = store.apply_policy(document, actor="Alice", reason="regulator order", base_version=0)
    entry = store.log.entry(r.log_index)
    assert entry.kind == "policy.apply"
    assert (entry.author, entry.reason) == ("alice", "regulator order")
    data = entry.entry["data"]
    assert data["document"] == docs.stored(document)
    assert data["document_hash"] == canonical_hash(docs.stored(document))
    assert data["actor"]["display_name"] == "Alice" and data["actor"]["via"] == "library"
    assert data["base_version"] == 0 and data["judgement"]["sensitive"] is False
    # the transaction's last entry carries the state it leaves
    last = store.log.entries()[-1].entry
    assert last["state"]["policy"] == {"version": 1, "hash": data["document_hash"]}
    # a checkpoint was signed for the new head in the same transaction
    assert store.log.latest_checkpoint().tree_size == store.log.size()


def test_two_person_rule(store, clock, docs):
    r = store.apply_policy(docs.sensitive("v1"), actor="alice", reason="review", base_version=0)
    assert r.status == "pending" and r.version is None and r.sensitive
    assert r.reasons == ["rule 'r1' is marked sensitive"]
    assert store.policy_document_at() is None
    pending = store.pending_changes()
    assert [(p.id, p.operator, p.summary, p.base_version) for p in pending] == [
        (r.change_id, "alice", "v1", 0)
    ]
    with pytest.raises(PermissionDeniedError, match="cannot also approve"):
        store.approve(r.change_id, actor="alice")
    assert store.policy_document_at() is None
    clock.advance(60)
    a = store.approve(r.change_id, actor="bob", reason="looks right")
    assert (a.status, a.version, a.change_id) == ("applied", 1, r.change_id)
    assert store.policy_document_at() == docs.stored(docs.sensitive("v1"))
    assert store.pending_changes() == []
    v = store.policy_versions()[0]
    assert (v.operator, v.approved_by) == ("alice", "bob")
    assert v.applied_at == np.datetime64(clock.now, "ns")
    kinds = [e.kind for e in store.log.entries()]
    assert kinds.count("policy.request") == 1 and kinds.count("policy.approve") == 1
    with pytest.raises(ConflictError, match="is applied, not pending"):
        store.approve(r.change_id, actor="carol")


def test_review_can_be_requested_but_never_skipped(store, docs):
    r = store.apply_policy(
        docs.plain("v1"), actor="alice", reason="r", base_version=0, request_review=True
    )
    assert r.status == "pending" and not r.sensitive
    assert store.approve(r.change_id, actor="bob").version == 1
    # no argument of apply_policy makes a sensitive change apply at once
    with pytest.raises(TypeError):
        store.apply_policy(
            docs.sensitive("v2"), actor="alice", reason="r", base_version=1, requires_approval=False
        )
    assert store.apply_policy(
        docs.sensitive("v2"), actor="a", reason="r", base_version=1
    ).status == ("pending")


def test_expired_change_never_takes_effect(store, clock, docs):
    r = store.apply_policy(
        docs.sensitive("v1"), actor="alice", reason="r", base_version=0, expires_after_s=3600
    )
    clock.advance(3600)  # expiry is exclusive: at expires_at it is already too late
    assert store.pending_changes() == []
    with pytest.raises(ConflictError, match="expired"):
        store.approve(r.change_id, actor="bob")
    change = store.change(r.change_id)
    assert change.status == "expired"
    assert store.policy_document_at() is None and store.policy_versions() == []
    assert store.log.entries()[-1].kind == "policy.expire"
    with pytest.raises(ConflictError, match="is expired, not pending"):
        store.approve(r.change_id, actor="bob")


def test_expire_overdue_and_reject(store, clock, docs):
    a = store.apply_policy(
        docs.sensitive("a"), actor="alice", reason="", base_version=0, expires_after_s=10
    )
    b = store.apply_policy(docs.sensitive("b"), actor="alice", reason="", base_version=0)
    clock.advance(11)
    assert store.expire_overdue() == [a.change_id]
    store.reject(b.change_id, actor="bob", reason="no")
    assert [c.status for c in store.changes()] == ["expired", "rejected"]
    assert store.changes("rejected")[0].approved_by == "bob"
    with pytest.raises(InputError, match="choose one of: pending, applied"):
        store.changes("done")
    with pytest.raises(NotFoundError, match="no change 99"):
        store.approve(99, actor="bob")


def test_terminals(store, clock):
    rec = {
        "id": "UT-1",
        "country": "UA",
        "plan": "roam",
        "whitelists": ["mod-ua"],
        "speed_exempt": True,
        "extra": {"x": 1.5},
    }
    i = store.put_terminal(rec, actor="alice", reason="registered")
    assert store.get_terminal("UT-1") == rec
    clock.advance(1)
    rec2 = dict(rec, plan="standard")
    j = store.put_terminal(rec2, actor="bob", reason="plan change")
    store.put_terminal({"id": "UT-0"}, actor="bob", reason="new")
    assert j > i
    assert store.terminals() == [{"id": "UT-0"}, rec2]
    assert store.terminals(country="UA") == [rec2]
    e = store.log.entry(j)
    assert e.kind == "terminal.put" and e.entry["data"]["created"] is False
    store.delete_terminal("UT-0", actor="bob", reason="returned")
    with pytest.raises(NotFoundError, match="no terminal 'UT-0'"):
        store.get_terminal("UT-0")
    with pytest.raises(InputError, match="non-empty string 'id'"):
        store.put_terminal({"country": "UA"}, actor="a", reason="r")
    with pytest.raises(InputError, match="whitelists"):
        store.put_terminal({"id": "x", "whitelists": "a"}, actor="a", reason="r")
    assert store.operators() == ["alice", "bob"]
    assert store.state().terminals == 1


def test_bad_inputs_are_refused_before_anything_is_written(store, docs):
    with pytest.raises(InputError, match="operator .* is empty"):
        store.apply_policy(docs.plain("x"), actor=" \u200b", reason="r", base_version=0)
    with pytest.raises(InputError, match="a policy document is a mapping"):
        store.apply_policy([1], actor="a", reason="r", base_version=0)
    with pytest.raises(InputError, match="unknown key 'v'"):
        store.apply_policy({"v": 1}, actor="a", reason="r", base_version=0)
    for bad in (-1, "1", True, 1.0):
        with pytest.raises(InputError, match="base_version must be"):
            store.apply_policy(docs.plain("x"), actor="a", reason="r", base_version=bad)
    with pytest.raises(InputError, match="a signed change names the version"):
        store.apply_policy(
            docs.plain("x"), actor="a", reason="r", base_version=None, signed=(b"k", b"s")
        )
    assert store.log.size() == 0 and store.changes() == []


def test_a_change_without_a_base_replaces_the_version_in_force_when_it_is_stored(store, docs):
    """``base_version=None`` asserts nothing: each such change is judged against, and
    replaces, the version in force inside its own transaction, so changes that arrive
    together are all applied, one after another, none lost and none refused."""
    import threading

    store.apply_policy(docs.plain("v1"), actor="a", reason="r", base_version=0)
    results, errors = [], []

    def apply(i: int) -> None:
        try:
            results.append(
                store.apply_policy(docs.plain(f"n{i}"), actor="a", reason="r", base_version=None)
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.version for r in results) == list(range(2, 8))
    assert sorted((r.base_version, r.version) for r in results) == [(v - 1, v) for v in range(2, 8)]
    assert store.state().policy_version == 7
    # a base that is named is still checked (compare-and-swap)
    with pytest.raises(ConflictError, match="built on policy version 6, but version 7"):
        store.apply_policy(docs.plain("late"), actor="a", reason="r", base_version=6)


def test_identical_document_is_refused(store, docs):
    store.apply_policy(docs.plain("v1"), actor="a", reason="r", base_version=0)
    with pytest.raises(ConflictError, match="identical to policy version 1"):
        store.apply_policy(docs.plain("v1"), actor="b", reason="r", base_version=1)


def test_a_crash_mid_write_leaves_the_previous_state(store, monkeypatch, docs):
    store.apply_policy(docs.plain("v1"), actor="alice", reason="r", base_version=0)
    size, root = store.log.size(), store.log.root()
    checkpoints = len(store.log.checkpoints())

    def crash(self, uow, **kw):
        # the change row and the version row are already flushed
        count = sa.select(sa.func.count()).select_from(PolicyVersionRow)
        assert uow.session.execute(count).scalar() == 2
        raise RuntimeError("power cut")

    monkeypatch.setattr(TransparencyLog, "_finish", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        store.apply_policy(docs.plain("v2", region="CZ"), actor="alice", reason="r", base_version=1)
    monkeypatch.undo()
    assert store.policy_document_at() == docs.stored(docs.plain("v1"))
    assert [c.id for c in store.changes()] == [1]
    assert (store.log.size(), store.log.root()) == (size, root)
    assert len(store.log.checkpoints()) == checkpoints
    assert store.verify().ok
    # and the store goes on from the previous state
    r = store.apply_policy(docs.plain("v3", region="SK"), actor="alice", reason="r", base_version=1)
    assert r.version == 2 and store.verify().ok


def test_concurrent_writers_do_not_fork_the_log(make_store):
    stores = [make_store() for _ in range(4)]
    errors: list[BaseException] = []

    def work(s: Store, who: int) -> None:
        try:
            for i in range(8):
                s.put_terminal({"id": f"T{who}-{i}"}, actor=f"op{who}", reason="load")
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
    report = stores[0].verify()
    assert report.ok, report.problem
    sizes = [c.tree_size for c in log.checkpoints()]
    assert sizes == sorted(sizes)


def test_store_open_uses_settings_and_protects_the_key(isolated_env, docs):
    settings = load_settings()
    with Store.open(settings=settings, require_distinct_os_users=False) as store:
        store.apply_policy(docs.plain("v1"), actor="a", reason="r", base_version=0)
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
        store.apply_policy(docs.plain("v2", region="CZ"), actor="a", reason="r", base_version=1)


def test_require_distinct_os_users_is_kept_in_the_log(make_store, docs):
    store = make_store(require_distinct_os_users=None)  # a new store: on by default
    assert store.settings() == {"require_distinct_os_users": True}
    store.set_setting("require_distinct_os_users", False, actor="admin", reason="sandbox")
    (entry,) = [e.entry for e in store.log.entries() if e.kind == "store.setting"]
    assert entry["data"]["previous"] is True and entry["data"]["value"] is False
    # reopening with another value than the log records is refused, not silently applied
    with pytest.raises(ConfigurationError, match="require_distinct_os_users=False"):
        make_store(require_distinct_os_users=True).state()
    assert make_store(require_distinct_os_users=None).settings() == {
        "require_distinct_os_users": False
    }
    with pytest.raises(InputError, match="unknown store setting"):
        store.set_setting("open_sesame", True, actor="admin", reason="r")


def test_unknown_backend_lists_the_choices():
    with pytest.raises(ConfigurationError, match="choose one of: sqlite, postgresql"):
        Store.open("mysql://x@localhost/db", key_dir="/nonexistent")


def test_frozen_clock_times_are_stored_exactly(store, clock, docs):
    clock.now = datetime(2026, 2, 22, 12, 0, 0, 123456)
    r = store.apply_policy(
        docs.sensitive("v1"), actor="a", reason="r", base_version=0, expires_after_s=1.5
    )
    c = store.change(r.change_id)
    assert c.created_at == np.datetime64("2026-02-22T12:00:00.123456", "ns")
    assert c.expires_at == np.datetime64("2026-02-22T12:00:01.623456", "ns")
    assert json.loads(json.dumps(store.log.entry(r.log_index).entry))["time"] == (
        "2026-02-22T12:00:00.123456Z"
    )


def test_rows_are_what_the_api_says(store, store_url, docs):
    r = store.apply_policy(docs.sensitive("v1"), actor="Alice", reason="r", base_version=0)
    store.approve(r.change_id, actor=Actor.token("Bob"))
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
            assert json.loads(row.requested_actor)["display_name"] == "Alice"
            assert json.loads(row.decided_actor) == {
                "name": "bob",
                "display_name": "Bob",
                "via": "token",
                "os_user": None,
            }
            assert row.base_version == 0
    finally:
        engine.dispose()


def test_put_terminals_is_one_transaction(store):
    before = len(store.log.checkpoints())
    seen = []
    indices = store.put_terminals(
        [{"id": "A"}, {"id": "B", "country": "UA"}, {"id": "A", "plan": "roam"}],
        actor="alice",
        reason="import",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert len(indices) == 3 and indices == sorted(indices)
    assert store.terminals() == [{"id": "A", "plan": "roam"}, {"id": "B", "country": "UA"}]
    assert len(store.log.checkpoints()) == before + 1
    size = store.log.size()
    with pytest.raises(InputError, match="speed_exempt"):
        store.put_terminals(
            [{"id": "C"}, {"id": "D", "speed_exempt": "yes"}], actor="alice", reason="r"
        )
    assert store.log.size() == size and len(store.terminals()) == 2
    assert store.verify().ok


CRASHING_WRITER = """
import os, sys
from skyfence.store import Store
from skyfence.store.tlog import TransparencyLog
url, keys = sys.argv[1], sys.argv[2]
store = Store.open(url, key_dir=keys)
doc = {"name": "v1", "rules": [{"id": "r1", "region": "PL", "state": "active"}]}
store.apply_policy(doc, actor="alice", reason="r", base_version=0)
def die(*args, **kwargs):
    os._exit(3)  # the process dies mid-transaction: rows written, nothing committed
TransparencyLog._finish = die
doc2 = {"name": "v2", "rules": [{"id": "r1", "region": "CZ", "state": "active"}]}
store.apply_policy(doc2, actor="alice", reason="r", base_version=1)
"""


def test_a_killed_process_leaves_the_previous_state(store_url, tmp_path, docs):
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
        assert store.policy_document_at() == docs.stored(docs.plain("v1"))
        assert [v.version for v in store.policy_versions()] == [1]
        assert store.verify().ok
        r = store.apply_policy(
            docs.plain("v3", region="SK"), actor="bob", reason="r", base_version=1
        )
        assert r.version == 2
