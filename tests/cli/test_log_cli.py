"""``skyfence log``: show, proof, checkpoint, export, pubkey, verify (offline), rotate-key."""

from __future__ import annotations

import json

import pytest

from skyfence.cli.main import main
from skyfence.settings import load_settings
from skyfence.store import Store
from skyfence.store.canonical import canonical_json
from skyfence.store.merkle import MemoryTree, leaf_hash, verify_inclusion


@pytest.fixture()
def filled(isolated_env):
    """The default store (under the isolated data dir) with a few changes in it."""
    doc = {
        "name": "v1",
        "rules": [{"id": "r1", "region": "PL", "state": "active", "sensitive": True}],
    }
    with Store.open(settings=load_settings(), require_distinct_os_users=False) as store:
        r = store.apply_policy(doc, actor="alice", reason="start", base_version=0)
        store.approve(r.change_id, actor="bob", reason="ok")
        store.put_terminal({"id": "UT-1", "country": "UA"}, actor="alice", reason="register")
        entries = store.log.entries(0, None)
    return isolated_env, entries


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_show_json_and_table(filled, capsys):
    _, entries = filled
    assert main(["log", "show", "--json"]) == 0
    out = _json(capsys)
    assert out["tree_size"] == len(entries)
    assert [e["kind"] for e in out["entries"]] == [e.kind for e in entries]
    assert out["entries"][0]["kind"] == "store.setting"  # the sandbox setting, logged
    assert out["entries"][1]["author"] == "alice"
    assert main(["log", "show", "--from", "2", "--limit", "1", "--json"]) == 0
    assert [e["index"] for e in _json(capsys)["entries"]] == [2]
    assert main(["log", "show"]) == 0
    assert "policy.request" in capsys.readouterr().out


def test_proofs_verify_against_an_independent_tree(filled, capsys):
    _, entries = filled
    ref = MemoryTree(leaf_hash(canonical_json(e.entry)) for e in entries)
    assert main(["log", "proof", "1", "--json"]) == 0
    out = _json(capsys)
    proof = out["proof"]
    assert out["verifies"] is True
    assert proof["root_hash"] == ref.root().hex()
    assert verify_inclusion(
        ref.levels[0][1], 1, len(ref), [bytes.fromhex(h) for h in proof["path"]], ref.root()
    )
    assert main(["log", "proof", "0", "--size", "2", "--json"]) == 0
    assert _json(capsys)["proof"]["root_hash"] == ref.root(2).hex()
    assert main(["log", "proof", "--consistency", "2", str(len(ref)), "--json"]) == 0
    out = _json(capsys)
    assert out["verifies"] and out["proof"]["old_root"] == ref.root(2).hex()
    assert main(["log", "proof", "0"]) == 0
    assert "verifies: yes" in capsys.readouterr().out


def test_proof_errors_are_one_line(filled, capsys):
    assert main(["log", "proof", "999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: no entry 999") and err.count("\n") == 1
    assert main(["log", "proof"]) == 1
    assert "--consistency M N" in capsys.readouterr().err


def test_export_pubkey_verify_roundtrip_and_tampering(filled, capsys, monkeypatch):
    tmp, entries = filled
    export = tmp / "log.jsonl"
    key = tmp / "log.pem"
    assert main(["log", "export", str(export), "--json"]) == 0
    summary = _json(capsys)
    assert summary["entries"] == len(entries)
    assert main(["log", "pubkey", "--out", str(key)]) == 0
    assert capsys.readouterr().out.startswith("-----BEGIN PUBLIC KEY-----")
    assert main(["log", "pubkey", "--json"]) == 0
    assert _json(capsys)["pem"] == key.read_text()

    # verify needs no database: point the settings somewhere empty
    other = tmp / "elsewhere"
    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(other))
    assert main(["log", "verify", str(export), "--key", str(key), "--json"]) == 0
    report = _json(capsys)
    assert report["ok"] and report["entries"] == len(entries)
    assert not other.exists()
    assert main(["log", "verify", str(export), "--key", key.read_text()]) == 0
    assert "OK:" in capsys.readouterr().out

    lines = export.read_text().splitlines()
    rec = json.loads(lines[3])  # entry 2
    assert rec["type"] == "entry" and rec["index"] == 2
    rec["entry"]["author"] = "mallory"
    lines[3] = json.dumps(rec)
    export.write_text("\n".join(lines) + "\n")
    assert main(["log", "verify", str(export), "--key", str(key)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: ") and "entry 2 was changed" in err
    assert err.count("\n") == 1
    assert main(["log", "verify", str(export), "--key", str(key), "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["first_bad_index"] == 2
    assert "entry 2 was changed" in captured.err


def test_checkpoint_and_rotate_key(filled, capsys):
    _, entries = filled
    assert main(["log", "checkpoint", "--json"]) == 0
    cp = _json(capsys)
    assert cp["tree_size"] == len(entries)
    assert main(["log", "rotate-key", "--operator", "alice", "--reason", "drill", "--json"]) == 0
    new = _json(capsys)
    assert new["key_id"] != cp["key_id"]
    assert main(["log", "checkpoint", "--json"]) == 0
    assert _json(capsys)["key_id"] == new["key_id"]


def test_verify_missing_file_is_an_error(isolated_env, capsys):
    assert main(["log", "verify", str(isolated_env / "none.jsonl"), "--key", "AAAA"]) == 1
    assert "skyfence: error:" in capsys.readouterr().err


def test_tampered_database_is_caught_by_export_and_verify(filled, capsys):
    import sqlalchemy as sa

    tmp, entries = filled
    assert main(["log", "pubkey", "--out", str(tmp / "k.pem")]) == 0
    capsys.readouterr()
    engine = sa.create_engine(load_settings().resolved_database_url())
    with engine.begin() as conn:  # someone edits entry 1 in place, leaf hash untouched
        text = conn.execute(
            sa.text("SELECT entry_json FROM log_entries WHERE entry_index = 1")
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE log_entries SET entry_json = :j WHERE entry_index = 1"),
            {"j": text.replace('"author":"', '"author":"x')},
        )
    engine.dispose()
    assert main(["log", "export", str(tmp / "log.jsonl")]) == 0
    assert main(["log", "verify", str(tmp / "log.jsonl"), "--key", str(tmp / "k.pem")]) == 1
    assert "entry 1 was changed" in capsys.readouterr().err


def test_verify_database_in_place(filled, capsys):
    import sqlalchemy as sa

    tmp, _ = filled
    assert main(["log", "pubkey", "--out", str(tmp / "k.pem")]) == 0
    capsys.readouterr()
    assert main(["log", "verify", "--database", "--json"]) == 0
    assert _json(capsys)["ok"] is True
    assert main(["log", "verify", "--database", "--key", str(tmp / "k.pem")]) == 0
    assert "OK:" in capsys.readouterr().out
    engine = sa.create_engine(load_settings().resolved_database_url())
    with engine.begin() as conn:  # an entry removed from the middle
        conn.execute(sa.text("DELETE FROM log_entries WHERE entry_index = 2"))
    engine.dispose()
    assert main(["log", "verify", "--database", "--key", str(tmp / "k.pem")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: database: entry 2 is missing")
    assert main(["log", "verify"]) == 1
    assert "--database" in capsys.readouterr().err
    assert main(["log", "verify", str(tmp / "x.jsonl")]) == 1
    assert "needs --key" in capsys.readouterr().err
