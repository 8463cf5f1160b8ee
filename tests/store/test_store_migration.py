"""A store written by skyfence before revision 0002 (tests/store/data/store-0001.sql, dumped
from a SQLite store made with that code, and its signing key) upgrades and keeps working:
its state is derived once from the whole log (whose entries carried no state then), and an
old pending change — logged without its base version — is approved on the version it was
requested on."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from skyfence.errors import IntegrityError
from skyfence.store import Store

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture()
def old_store(tmp_path: Path) -> tuple[str, Path]:
    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    con.executescript((DATA / "store-0001.sql").read_text(encoding="utf-8"))
    con.close()
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for pem in DATA.glob("log-*.pem"):
        shutil.copy(pem, keys / pem.name)
        (keys / pem.name).chmod(0o600)
    return f"sqlite:///{db}", keys


def test_old_store_upgrades_and_derives_its_state_from_the_log(old_store, clock):
    url, keys = old_store
    clock.advance(3600)  # the fixture was made from 12:00 to 12:25 on 2026-02-22
    with Store.open(url, key_dir=keys, clock=clock) as store:
        state = store.state()
        assert (state.policy_version, state.terminals) == (2, 2)
        assert [v.version for v in store.policy_versions()] == [1, 2]
        assert {t["id"] for t in store.terminals()} == {"W1", "G1"}
        assert store.policy_in_force().document["description"] == "v2 description"
        (pending,) = store.pending_changes()
        request = store.change_request(pending.id)
        assert request.base_version == 2  # inferred: the version in force when it was made
        assert [r["name"] for r in request.requesters] == ["alice"]
        result = store.approve(pending.id, actor="bob", reason="ok")
        assert (result.version, result.base_version) == (3, 2)
        assert store.policy_in_force().document["sensitive_regions"] == []
        # the new entries carry their state; the whole log and the tables check out
        assert store.log.entries()[-1].entry["state"]["policy"]["version"] == 3
        report = store.verify()
        assert report.ok, report.problem


def test_old_store_edited_before_the_upgrade_is_refused(old_store):
    url, keys = old_store
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # Crimea served: the suspension edited out of version 2
        text = conn.execute(
            sa.text("SELECT document_json FROM policy_versions WHERE version = 2")
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE policy_versions SET document_json = :t WHERE version = 2"),
            {"t": text.replace('"state":"suspended"', '"state":"active"')},
        )
    engine.dispose()
    with Store.open(url, key_dir=keys) as store:
        with pytest.raises(IntegrityError, match="policy version 2 in the table is not"):
            store.policy_in_force()
        report = store.verify()
        assert not report.ok and "policy_versions: version 2" in report.problem


def test_head_revision_is_alembics_head():
    # a store at HEAD_REVISION is opened without running Alembic: the constant must follow
    # every new migration
    from alembic.script import ScriptDirectory

    from skyfence.store.db import HEAD_REVISION, migration_config

    assert ScriptDirectory.from_config(migration_config()).get_heads() == [HEAD_REVISION]


def test_a_store_at_head_opens_without_alembic(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 's.db'}"
    Store.open(url, key_dir=tmp_path / "keys").close()
    code = (
        "import sys\n"
        "from skyfence.store import Store\n"
        f"Store.open({url!r}, key_dir={str(tmp_path / 'keys')!r}).close()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
