"""The transparency log in the store: proofs, checkpoints, key rotation, export, tamper detection."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyfence.errors import InputError, IntegrityError, ParseError
from skyfence.store import verify_export
from skyfence.store.canonical import canonical_json
from skyfence.store.keys import load_public_key
from skyfence.store.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion


def _fill(store, n: int) -> None:
    for i in range(n):
        store.put_terminal({"id": f"UT-{i}", "n": i}, actor=f"op{i % 3}", reason=f"r{i}")


def _reference_tree(store) -> MemoryTree:
    """The tree recomputed from the stored entry JSON alone."""
    return MemoryTree(leaf_hash(canonical_json(e.entry)) for e in store.log.entries(0, None))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=st.lists(st.integers(1, 9), min_size=1, max_size=5), data=st.data())
def test_after_any_appends_every_proof_verifies(store, batches, data):
    for k in batches:  # the log keeps growing across examples: any sequence of appends
        store.log.append_many([("note", {"k": k, "i": i}, "alice", "test") for i in range(k)])
    n = store.log.size()
    ref = _reference_tree(store)
    assert store.log.root() == ref.root().hex()
    for _ in range(6):
        # draws do not depend on n (the log grows across examples), so map them onto it
        a, b, c, d = (data.draw(st.integers(0, 10**9)) for _ in range(4))
        size = 1 + a % n
        index = b % size
        proof = store.log.inclusion_proof(index, size)
        assert proof.path == [h.hex() for h in ref.inclusion_proof(index, size)]
        assert proof.verify()
        assert proof.root_hash == ref.root(size).hex()
        wrong = leaf_hash(b"not the entry")
        assert not verify_inclusion(
            wrong, index, size, [bytes.fromhex(p) for p in proof.path], ref.root(size)
        )
        old = c % (n + 1)
        new = old + d % (n - old + 1)
        cproof = store.log.consistency_proof(old, new)
        assert cproof.verify()
        assert cproof.new_root == ref.root(new).hex()
        if 0 < old < new:
            assert not verify_consistency(
                old,
                new,
                bytes(32),
                bytes.fromhex(cproof.new_root),
                [bytes.fromhex(p) for p in cproof.path],
            )
    # every checkpoint's root is the recomputed root at its size, and they are consistent
    cps = store.log.checkpoints()
    for cp in cps:
        assert cp.root_hash == ref.root(cp.tree_size).hex()
    assert store.log.verify().ok


def test_entries_chain_and_show_their_data(store):
    _fill(store, 3)
    entries = store.log.entries()
    assert [e.index for e in entries] == list(range(len(entries)))
    ref = MemoryTree()
    for e in entries:
        assert e.entry["index"] == e.index
        assert e.entry["prev_root"] == ref.root().hex()
        ref.append(leaf_hash(canonical_json(e.entry)))
        assert e.leaf_hash == ref.levels[0][-1].hex()
    assert store.log.entries(2, 1)[0].index == 2
    with pytest.raises(InputError):
        store.log.inclusion_proof(99)


def test_checkpoints_are_signed_by_the_published_key(store):
    _fill(store, 2)
    from skyfence.store.keys import verify_signature

    raw = load_public_key(store.log.pubkey())
    for cp in store.log.checkpoints():
        # a C2SP checkpoint: origin, size, base64 root (c2sp.org/tlog-checkpoint)
        root64 = base64.b64encode(bytes.fromhex(cp.root_hash)).decode()
        msg = f"skyfence.local/policy-log\n{cp.tree_size}\n{root64}\n".encode()
        assert cp.note is not None and cp.note.startswith(msg.decode() + "\n\u2014 ")
        assert verify_signature(raw, base64.b64decode(cp.signature), msg)
    explicit = store.log.checkpoint(operator="auditor")
    assert explicit.tree_size == store.log.size()
    proof = store.log.inclusion_proof(0)
    assert proof.checkpoint is not None and proof.checkpoint.root_hash == proof.root_hash


def test_key_rotation_keeps_old_checkpoints_verifiable(store, tmp_path):
    _fill(store, 2)
    old_pem = store.log.pubkey()
    new_id = store.log.rotate_key(operator="alice", reason="yearly rotation")
    _fill(store, 1)
    new_pem = store.log.pubkey()
    assert new_pem != old_pem
    assert store.log.latest_checkpoint().key_id == new_id
    keys = store.log.public_keys()
    assert [k.status for k in keys] == ["retired", "active"]
    rotation = [e for e in store.log.entries(0, None) if e.kind == "key.rotate"]
    assert len(rotation) == 1 and rotation[0].entry["data"]["new_key_id"] == new_id
    path = tmp_path / "log.jsonl"
    store.log.export(path)
    assert verify_export(path, new_pem).ok  # trusts the old key through the signed rotation
    assert verify_export(path, old_pem).ok
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    stranger = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    report = verify_export(path, stranger.decode())
    assert not report.ok and "not the trusted key" in report.problem


# --- tampering ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[list[str], str, int]:
    """One SQLite log of 8 entries exported once: (lines, public key PEM, size).

    Tampering with an export is file work, so these tests need no database per test.
    """
    from skyfence.store import Store

    base = tmp_path_factory.mktemp("export")
    with Store.open(f"sqlite:///{base / 'log.db'}", key_dir=base / "keys") as store:
        _fill(store, 7)
        store.log.export(base / "log.jsonl")
        return (base / "log.jsonl").read_text().splitlines(), store.log.pubkey(), store.log.size()


def _export(exported, tmp_path: Path) -> tuple[Path, str, list[str]]:
    lines, pem, _ = exported
    path = tmp_path / "log.jsonl"
    _write(path, lines)
    return path, pem, list(lines)


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def _entry_line(lines: list[str], index: int) -> int:
    for i, line in enumerate(lines):
        rec = json.loads(line)
        if rec["type"] == "entry" and rec["index"] == index:
            return i
    raise AssertionError(index)


def _rewrite(line: str, change, *, recompute_leaf: bool) -> str:
    rec = json.loads(line)
    change(rec)
    if recompute_leaf:
        rec["leaf_hash"] = leaf_hash(canonical_json(rec["entry"])).hex()
    return json.dumps(rec)


def test_untouched_export_verifies(exported, tmp_path):
    path, pem, _ = _export(exported, tmp_path)
    report = verify_export(path, pem)
    assert report.ok and report.entries == exported[2] == 8
    assert report.checkpoints_verified == report.checkpoints == 7  # one per write


@pytest.mark.parametrize("recompute_leaf", [False, True])
@pytest.mark.parametrize("target", [0, 4, 7])
def test_changed_entry_in_export_is_named(exported, tmp_path, target, recompute_leaf):
    path, pem, lines = _export(exported, tmp_path)
    i = _entry_line(lines, target)

    def change(rec):
        rec["entry"]["reason"] = "nothing to see here"

    lines[i] = _rewrite(lines[i], change, recompute_leaf=recompute_leaf)
    _write(path, lines)
    report = verify_export(path, pem)
    assert not report.ok
    assert report.first_bad_index == target, report.problem
    assert f"entry {target} was changed" in report.problem


@pytest.mark.parametrize("renumber", [False, True])
def test_deleted_entry_in_export_is_named(exported, tmp_path, renumber):
    path, pem, lines = _export(exported, tmp_path)
    i = _entry_line(lines, 3)
    del lines[i]
    if renumber:  # hide the gap: renumber every later entry and recompute its leaf hash
        for j in range(i, len(lines)):
            rec = json.loads(lines[j])
            if rec["type"] == "entry":

                def dec(r):
                    r["index"] -= 1
                    r["entry"]["index"] -= 1

                lines[j] = _rewrite(lines[j], dec, recompute_leaf=True)
    _write(path, lines)
    report = verify_export(path, pem)
    assert not report.ok and report.first_bad_index == 3, report.problem


def test_inserted_entry_in_export_is_named(exported, tmp_path):
    path, pem, lines = _export(exported, tmp_path)
    i = _entry_line(lines, 5)
    forged = json.loads(lines[i])
    forged["entry"]["data"] = {"terminal_id": "ghost"}
    forged["entry"]["prev_root"] = json.loads(lines[i])["entry"]["prev_root"]
    forged["leaf_hash"] = leaf_hash(canonical_json(forged["entry"])).hex()
    lines.insert(i, json.dumps(forged))
    _write(path, lines)
    report = verify_export(path, pem)
    assert not report.ok and report.first_bad_index == 5, report.problem


@pytest.mark.parametrize("renumber", [False, True])
def test_reordered_entries_in_export_are_named(exported, tmp_path, renumber):
    path, pem, lines = _export(exported, tmp_path)
    a, b = _entry_line(lines, 2), _entry_line(lines, 6)
    lines[a], lines[b] = lines[b], lines[a]
    if renumber:

        def fix(index):
            def change(r):
                r["index"] = index
                r["entry"]["index"] = index

            return change

        lines[a] = _rewrite(lines[a], fix(2), recompute_leaf=True)
        lines[b] = _rewrite(lines[b], fix(6), recompute_leaf=True)
    _write(path, lines)
    report = verify_export(path, pem)
    assert not report.ok and report.first_bad_index == 2, report.problem


def test_truncated_export_and_forged_checkpoint(exported, tmp_path):
    path, pem, lines = _export(exported, tmp_path)
    n = exported[2]
    truncated = [
        ln
        for ln in lines
        if not (json.loads(ln)["type"] == "entry" and json.loads(ln)["index"] >= n - 2)
    ]
    _write(path, truncated)
    report = verify_export(path, pem)
    assert not report.ok and report.first_bad_index == n - 2, report.problem
    # a checkpoint whose signature bytes were altered
    last = max(i for i, ln in enumerate(lines) if json.loads(ln)["type"] == "checkpoint")
    rec = json.loads(lines[last])
    sig = bytearray(base64.b64decode(rec["signature"]))
    sig[0] ^= 1
    rec["signature"] = base64.b64encode(bytes(sig)).decode()
    forged = list(lines)
    forged[last] = json.dumps(rec)
    _write(path, forged)
    report = verify_export(path, pem)
    assert not report.ok and "does not verify with key" in report.problem


def _append_outside(store_url: str, entry_data: dict) -> None:
    """Append one well-formed entry (row, Merkle nodes, head) straight into the database,
    as someone with write access to it but without the signing key would."""
    from skyfence.store.merkle import MemoryTree

    engine = sa.create_engine(store_url)
    try:
        with engine.begin() as conn:
            texts = [
                t
                for (t,) in conn.execute(
                    sa.text("SELECT entry_json FROM log_entries ORDER BY entry_index")
                )
            ]
            tree = MemoryTree(leaf_hash(t.encode()) for t in texts)
            n = len(texts)
            entry = {
                "v": 1,
                "index": n,
                "prev_root": tree.root().hex(),
                "time": "2026-02-22T12:00:00.000000Z",
                "kind": "note",
                "author": "mallory",
                "reason": "late",
                "data": entry_data,
            }
            text = canonical_json(entry).decode()
            leaf = leaf_hash(text.encode())
            tree.append(leaf)
            conn.execute(
                sa.text(
                    "INSERT INTO log_entries (entry_index, kind, author, reason, created_at, "
                    "entry_json, leaf_hash) VALUES (:i, 'note', 'mallory', 'late', "
                    "'2026-02-22 12:00:00', :j, :h)"
                ),
                {"i": n, "j": text, "h": leaf},
            )
            level, idx = 0, n
            while True:
                conn.execute(
                    sa.text(
                        "INSERT INTO merkle_nodes (level, node_index, hash) VALUES (:l, :i, :h)"
                    ),
                    {"l": level, "i": idx, "h": tree.levels[level][idx]},
                )
                if idx % 2 == 0 or len(tree.levels) <= level + 1:
                    break
                level, idx = level + 1, idx // 2
            conn.execute(
                sa.text("UPDATE log_head SET tree_size = :n, root_hash = :r"),
                {"n": n + 1, "r": tree.root()},
            )
    finally:
        engine.dispose()


def test_unsigned_tail_is_reported_and_never_signed_silently(make_store, store_url, tmp_path):
    store = make_store()
    _fill(store, 2)
    _append_outside(store_url, {"x": 1})
    other = make_store()  # another process: it must not build on the unsigned entry
    path = tmp_path / "log.jsonl"
    other.log.export(path, checkpoint=False)
    report = verify_export(path, other.log.pubkey())
    assert not report.ok and report.first_bad_index == other.log.size() - 1
    assert "not covered by any signed checkpoint" in report.problem
    with pytest.raises(IntegrityError, match="not covered by a signed checkpoint"):
        other.put_terminal({"id": "UT-9"}, actor="alice", reason="r")
    with pytest.raises(IntegrityError, match="appended outside skyfence"):
        other.log.export(path)  # would sign a checkpoint first
    # an operator who checked the entry may sign it explicitly
    other.log.checkpoint(operator="auditor", accept_unsigned=True)
    other.log.export(path)
    assert verify_export(path, other.log.pubkey()).ok
    other.put_terminal({"id": "UT-9"}, actor="alice", reason="r")
    assert other.verify().ok


def test_export_parse_errors_name_the_line(exported, tmp_path):
    path, pem, lines = _export(exported, tmp_path)
    lines[3] = "{not json"
    _write(path, lines)
    with pytest.raises(ParseError, match="line 4"):
        verify_export(path, pem)
    with pytest.raises(ParseError, match="no such file"):
        verify_export(tmp_path / "missing.jsonl", pem)
    with pytest.raises(InputError, match="neither a readable file nor a public key"):
        verify_export(path, str(tmp_path / "nokey.pem"))


# --- tampering with the database itself ---------------------------------------------------------
def _db(store_url):
    return sa.create_engine(store_url)


@pytest.mark.parametrize("how", ["change", "change+leaf", "delete", "swap"])
def test_tampered_database_is_detected(store, store_url, how):
    _fill(store, 6)
    engine = _db(store_url)
    target = 3
    try:
        with engine.begin() as conn:
            rows = {
                r.entry_index: r
                for r in conn.execute(sa.text("SELECT entry_index, entry_json FROM log_entries"))
            }
            entry = json.loads(rows[target].entry_json)
            if how.startswith("change"):
                entry["author"] = "mallory"
                text = canonical_json(entry).decode()
                params = {"j": text, "i": target}
                sql = "UPDATE log_entries SET entry_json = :j WHERE entry_index = :i"
                if how == "change+leaf":
                    sql = (
                        "UPDATE log_entries SET entry_json = :j, leaf_hash = :h "
                        "WHERE entry_index = :i"
                    )
                    params["h"] = leaf_hash(text.encode())
                conn.execute(sa.text(sql), params)
            elif how == "delete":
                conn.execute(
                    sa.text("DELETE FROM log_entries WHERE entry_index = :i"), {"i": target}
                )
            else:
                other = json.loads(rows[5].entry_json)
                for idx, doc in ((target, other), (5, entry)):
                    t = canonical_json(doc).decode()
                    conn.execute(
                        sa.text(
                            "UPDATE log_entries SET entry_json = :j, leaf_hash = :h "
                            "WHERE entry_index = :i"
                        ),
                        {"j": t, "h": leaf_hash(t.encode()), "i": idx},
                    )
    finally:
        engine.dispose()
    report = store.log.verify()
    assert not report.ok
    assert report.first_bad_index == target, report.problem


def _renumber(rec: dict, index: int) -> dict:
    rec = json.loads(json.dumps(rec))
    rec["index"] = index
    rec["entry"]["index"] = index
    rec["leaf_hash"] = leaf_hash(canonical_json(rec["entry"])).hex()
    return rec


@settings(max_examples=80, deadline=None)
@given(
    op=st.sampled_from(
        ["change", "change+leaf", "delete", "delete+renumber", "insert", "swap", "swap+renumber"]
    ),
    picks=st.data(),
)
def test_any_tampering_of_an_export_names_the_first_bad_entry(exported, op, picks):
    """Hypothesis over what is done and where; the checkpoints are one per write transaction.

    The first write made two entries (a terminal and the signing key) under one checkpoint,
    so the boundary between entries 0 and 1 is never signed; targets that need a signed
    boundary before them therefore start at 2 (see docs/log.md, "What verify checks").
    """
    from skyfence.store.verify import verify_records

    lines, pem, n = exported
    records = [json.loads(line) for line in lines]
    entries = [r for r in records if r["type"] == "entry"]
    others = [r for r in records if r["type"] != "entry"]
    lo = 0 if op in ("change", "change+leaf", "delete", "swap") else 2
    t = picks.draw(st.integers(lo, n - 1), label="target")
    if op in ("change", "change+leaf"):
        rec = json.loads(json.dumps(entries[t]))
        rec["entry"]["reason"] += " (edited)"
        if op == "change+leaf":
            rec["leaf_hash"] = leaf_hash(canonical_json(rec["entry"])).hex()
        entries[t] = rec
    elif op == "delete":
        del entries[t]
    elif op == "delete+renumber":
        del entries[t]
        entries = entries[:t] + [_renumber(r, i) for i, r in enumerate(entries[t:], start=t)]
    elif op == "insert":
        forged = json.loads(json.dumps(entries[t]))
        forged["entry"]["data"] = {"forged": True}
        forged["leaf_hash"] = leaf_hash(canonical_json(forged["entry"])).hex()
        entries.insert(t, forged)
    else:
        if t == n - 1:
            t -= 1
        u = picks.draw(st.integers(t + 1, n - 1), label="other")
        entries[t], entries[u] = entries[u], entries[t]
        if op == "swap+renumber":
            entries[t], entries[u] = _renumber(entries[t], t), _renumber(entries[u], u)
    report = verify_records(
        [others[0], *entries, *others[1:]], [load_public_key(pem)], source="export"
    )
    assert not report.ok
    assert report.first_bad_index == t, (op, t, report.problem)
