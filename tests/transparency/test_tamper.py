"""The tamper suite: each way of lying with an export is caught by `skyfence log verify`
(exit 1) and named in its one-line message. The log's checkpoints are C2SP notes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from skyfence.cli.main import main
from skyfence.store import Store
from skyfence.store.canonical import canonical_json
from skyfence.store.merkle import MemoryTree, leaf_hash
from skyfence.transparency.checkpoint import Checkpoint


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An export of a log with 12 entries in 6 write transactions, its vkey, and a pin."""
    root = tmp_path_factory.mktemp("tamper")
    with Store.open(f"sqlite:///{root / 's.db'}", key_dir=root / "keys") as store:
        store.log.append_many([("note", {"n": i}, "alice", "batch 1") for i in range(3)])
        for k in range(4):
            store.log.append_many(
                [("note", {"n": 10 * k + j}, "bob", f"batch {k + 2}") for j in range(2)]
            )
        pin = store.log.latest_checkpoint()
        store.log.append("note", {"n": 99}, author="carol", reason="last")
        path = root / "log.jsonl"
        store.log.export(path)
        vkey = store.log.vkey()
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines, vkey, pin


@pytest.fixture(autouse=True, params=["rewritten", "export form", "export form, 2 workers"])
def reading(request, monkeypatch):
    """Each test three ways: the records rewritten with other JSON spacing (read line by line
    the strict way), written as an export writes them (the fast reader), and that read by two
    worker processes in small chunks."""
    from skyfence.store import verify_scan

    if request.param.endswith("workers"):
        monkeypatch.setattr(verify_scan, "CHUNK_BYTES", 700)
        monkeypatch.setattr(verify_scan, "default_workers", lambda path: 2)
    return request.param


def _records(lines):
    return [json.loads(x) for x in lines]


def _write(tmp_path: Path, records, reading: str = "") -> Path:
    path = tmp_path / "t.jsonl"
    if reading.startswith("export form"):
        text = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)
    else:
        text = "".join(json.dumps(r) + "\n" for r in records)
    path.write_text(text, encoding="utf-8")
    return path


def _entries(records):
    return [r for r in records if r["type"] == "entry"]


def _rehash(record):
    record["leaf_hash"] = leaf_hash(canonical_json(record["entry"])).hex()
    return record


def _verify(path: Path, vkey: str, capsys, *extra: str) -> str:
    code = main(["log", "verify", str(path), "--key", vkey, *extra])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert len(captured.err.strip().splitlines()) == 1
    return captured.err


def test_untouched_export_verifies_with_the_vkey(exported, tmp_path, reading, capsys):
    lines, vkey, _ = exported
    assert (
        main(["log", "verify", str(_write(tmp_path, _records(lines), reading)), "--key", vkey]) == 0
    )
    assert "OK: 13 entries" in capsys.readouterr().out


def edited(records):
    e = _entries(records)[4]
    e["entry"]["data"]["n"] = 666
    _rehash(e)  # even with its leaf hash recomputed
    return records


def deleted(records):
    records.remove(_entries(records)[5])
    return records


def reordered(records):
    e = _entries(records)
    i, j = records.index(e[5]), records.index(e[6])
    records[i], records[j] = records[j], records[i]
    return records


def duplicated(records):
    e = _entries(records)[3]
    records.insert(records.index(e) + 1, json.loads(json.dumps(e)))
    return records


def appended_forged(records):
    """An entry appended by someone without the key: index, prev_root and leaf all correct."""
    entries = _entries(records)
    tree = MemoryTree(leaf_hash(canonical_json(r["entry"])) for r in entries)
    forged = dict(entries[-1]["entry"], index=len(entries), prev_root=tree.root().hex())
    forged["data"] = {"n": 1000}
    record = _rehash({"type": "entry", "index": len(entries), "entry": forged})
    records.insert(records.index(entries[-1]) + 1, record)
    return records


def truncated_tail(records):
    """The last entries cut off, the checkpoints kept."""
    for r in _entries(records)[-2:]:
        records.remove(r)
    return records


def replaced_signature(records):
    cps = [r for r in records if r["type"] == "checkpoint"]
    cps[2]["signature"] = cps[3]["signature"]  # a genuine signature, of another checkpoint
    return records


def substituted_key(records):
    """Every checkpoint re-signed by the tamperer's own key, the header's key replaced."""
    from skyfence.store.keys import key_id_for

    mine = Ed25519PrivateKey.generate()
    raw = mine.public_key().public_bytes_raw()
    records[0]["public_keys"] = [
        {
            "key_id": key_id_for(raw),
            "algorithm": "ed25519",
            "public_key": base64.b64encode(raw).decode(),
            "status": "active",
        }
    ]
    for r in records:
        if r["type"] == "checkpoint":
            r["key_id"] = key_id_for(raw)
            text = Checkpoint(r["origin"], r["tree_size"], bytes.fromhex(r["root_hash"])).text()
            r["signature"] = base64.b64encode(mine.sign(text.encode())).decode()
    return records


@pytest.mark.parametrize(
    "tamper, named",
    [
        (edited, "entry 4 was changed"),
        (deleted, "entries were deleted"),
        (reordered, "reordered"),
        (duplicated, "inserted"),
        (appended_forged, "entries 13..13 are not covered by any signed checkpoint"),
        (truncated_tail, "covers 12 entries but the log has 11: entries 11..11 were deleted"),
        (replaced_signature, "checkpoint 3 (tree size 8) has a signature that does not verify"),
        (substituted_key, "which is not the trusted key"),
    ],
)
def test_tampering_is_named(exported, tmp_path, reading, capsys, tamper, named):
    lines, vkey, _ = exported
    err = _verify(_write(tmp_path, tamper(_records(lines)), reading), vkey, capsys)
    assert named in err


def test_rolled_back_log_is_refused_against_a_pinned_checkpoint(
    exported, tmp_path, reading, capsys
):
    """The operator serves an older export (entries and checkpoints cut consistently)."""
    lines, vkey, pin = exported
    records = _records(lines)
    old = [r for r in records if r["type"] != "checkpoint" or r["tree_size"] <= 8]
    old = [r for r in old if r["type"] != "entry" or r["index"] < 8]
    path = _write(tmp_path, old, reading)
    assert main(["log", "verify", str(path), "--key", vkey]) == 0  # alone, a valid log
    capsys.readouterr()
    err = _verify(path, vkey, capsys, "--trusted-checkpoint", f"{pin.tree_size}:{pin.root_hash}")
    assert "rolled back" in err


def test_split_view_is_refused_against_a_pinned_checkpoint(exported, tmp_path, reading, capsys):
    """Another history of the same size, shown to someone who kept a checkpoint."""
    lines, vkey, pin = exported
    records = edited(_records(lines))
    err = _verify(
        _write(tmp_path, records, reading),
        vkey,
        capsys,
        "--trusted-checkpoint",
        f"{pin.tree_size}:{pin.root_hash}",
    )
    assert "entry 4 was changed" in err


def test_split_view_without_a_witness_quorum_is_refused(exported, tmp_path, reading, capsys):
    """A log no witness cosigned fails `--quorum` (the witness test shows the refusal)."""
    from skyfence.transparency.checkpoint import Cosigner

    lines, vkey, _ = exported
    w = Cosigner.from_seed("witness.example/w1", bytes([5]) * 32).verifier().vkey()
    err = _verify(
        _write(tmp_path, _records(lines), reading), vkey, capsys, "--witness", w, "--quorum", "1"
    )
    assert "fewer than the quorum of 1" in err


def test_a_kept_checkpoint_note_is_a_trusted_checkpoint(exported, tmp_path, reading, capsys):
    """An auditor keeps the C2SP note (from the tiles' checkpoint file); a rollback below it
    is refused."""
    lines, vkey, pin = exported
    records = _records(lines)
    note = next(r["note"] for r in records if r["type"] == "checkpoint" and r["tree_size"] == 12)
    kept = tmp_path / "kept.note"
    kept.write_text(note, encoding="utf-8")
    old = [r for r in records if r["type"] != "checkpoint" or r["tree_size"] <= 8]
    old = [r for r in old if r["type"] != "entry" or r["index"] < 8]
    err = _verify(_write(tmp_path, old, reading), vkey, capsys, "--trusted-checkpoint", str(kept))
    assert "rolled back" in err
    assert (
        main(
            [
                "log",
                "verify",
                str(_write(tmp_path, records, reading)),
                "--key",
                vkey,
                "--trusted-checkpoint",
                str(kept),
            ]
        )
        == 0
    )
