"""A store whose checkpoints predate C2SP (tests/store/data/store-0001.sql) keeps its old
checkpoints verifiable and signs new ones as C2SP notes after logging its origin."""

from __future__ import annotations

import base64
import shutil
import sqlite3
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from skyfence.store import Store, verify_export

DATA = Path(__file__).resolve().parent / "data"


def test_old_checkpoints_stay_verifiable_and_new_ones_are_c2sp(tmp_path, clock):
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript((DATA / "store-0001.sql").read_text(encoding="utf-8"))
    con.close()
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for pem in DATA.glob("log-*.pem"):
        shutil.copy(pem, keys / pem.name)
        (keys / pem.name).chmod(0o600)
    clock.advance(3600)
    url = f"sqlite:///{db}"
    with Store.open(
        url, key_dir=keys, clock=clock, log_origin="skyfence.example/policy-log"
    ) as store:
        old = store.log.checkpoints()
        assert old and all(cp.origin is None and cp.note is None for cp in old)
        size_before = store.log.size()
        store.log.append("note", {"text": "after the upgrade"}, author="alice", reason="x")
        new = store.log.latest_checkpoint()
        origin_entry = store.log.entry(size_before + 1)  # after the transaction's own entry
        assert origin_entry.kind == "log.origin"
        assert origin_entry.entry["data"] == {"origin": "skyfence.example/policy-log"}
        assert new.origin == "skyfence.example/policy-log"
        text = new.note.split("\n\n")[0] + "\n"
        root64 = base64.b64encode(bytes.fromhex(new.root_hash)).decode()
        assert text == f"skyfence.example/policy-log\n{new.tree_size}\n{root64}\n"
        raw = base64.b64decode(store.log.vkey().split("+", 2)[2])[1:]
        Ed25519PublicKey.from_public_bytes(raw).verify(
            base64.b64decode(new.signature), text.encode()
        )
        path = tmp_path / "log.jsonl"
        store.log.export(path)
        report = verify_export(path, store.log.pubkey())
        assert report.ok, report.problem
        assert report.checkpoints_verified == len(old) + 1
        assert store.verify().ok
