"""Everything that decides is in the log: a region file edited after the apply, and the
state tables edited in the database, must not change a decision unnoticed.

On the parent commit every attack here succeeded: the decision followed the edited file or
table, and ``log verify --database`` said OK.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from skyfence.app import App
from skyfence.app.decide import decide
from skyfence.app.identity import Principal
from skyfence.app.terminals import import_file
from skyfence.errors import IntegrityError
from skyfence.store import Store

ALICE = Principal.local("alice", os_user="alice")
SIMFEROPOL = (44.95, 34.10)
KHARKIV = (49.99, 36.23)
MARCH = "2026-03-01T12:00:00Z"


def _box(lat: float, lon: float, half_deg: float) -> dict:
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def test_region_file_edited_after_apply_does_not_move_the_area(app, tmp_path, sec):
    zone = tmp_path / "zone.geojson"
    zone.write_text(json.dumps(_box(*SIMFEROPOL, 0.3)), encoding="utf-8")
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "rules:\n"
        "  - {id: ua, region: UA, state: active}\n"
        f"  - {{id: zone, region: 'geojson:{zone}', state: suspended, sensitive: true}}\n",
        encoding="utf-8",
    )
    sec.apply_approved(app, policy)
    before = decide(app, ALICE, "T1", *SIMFEROPOL).decision
    assert (before.allowed, before.state) == (False, "suspended")
    zone.write_text(json.dumps(_box(0.0, -30.0, 0.3)), encoding="utf-8")  # moved to the sea
    later = App(app.settings)  # the next process: nothing compiled or cached yet
    after = decide(later, ALICE, "T1", *SIMFEROPOL).decision
    assert (after.allowed, after.state) == (False, "suspended")


def _crimea_active(text: str) -> str:
    return text.replace('"state":"suspended"', '"state":"active"')


@pytest.mark.parametrize("rehash", [False, True], ids=["document", "document+hash"])
def test_policy_table_edit_is_refused_and_reported(app, ukraine, store_url, rehash, sec):
    import hashlib

    sec.apply_approved(app, ukraine["ua"])
    import_file(app, ALICE, ukraine["terms"])
    d = decide(app, ALICE, "G1", *SIMFEROPOL).decision
    assert (d.allowed, d.rule_id) == (False, "crimea-suspended")
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # Crimea served again, by editing the version in force
        text = conn.execute(sa.text("SELECT document_json FROM policy_versions")).scalar_one()
        edited = _crimea_active(text)
        assert edited != text
        params = {"t": edited, "h": hashlib.sha256(edited.encode()).hexdigest()}
        sql = "UPDATE policy_versions SET document_json = :t"
        if rehash:
            sql += ", document_hash = :h"
        conn.execute(sa.text(sql), params)
    engine.dispose()
    # A process that read the version while the log attested it keeps deciding with what it
    # authenticated (the log head has not moved, so nothing written through skyfence changed):
    # the edit does not reach it ...
    d = decide(app, ALICE, "G1", *SIMFEROPOL).decision
    assert (d.allowed, d.rule_id) == (False, "crimea-suspended")
    # ... and any process that reads the tables now refuses to decide, naming the version
    app = App(app.settings)
    with pytest.raises(IntegrityError, match="policy version 1 in the table is not"):
        decide(app, ALICE, "G1", *SIMFEROPOL)
    with Store.open(store_url, key_dir=app.settings.data_dir / "keys") as store:
        report = store.verify()
        assert not report.ok and "policy_versions: version 1" in report.problem
        with pytest.raises(IntegrityError):
            store.check_state()
    # a decision from a policy file needs no stored policy, but the stored registry is
    # still checked and still fine
    d = decide(app, ALICE, "G1", *SIMFEROPOL, policy_file=ukraine["ua"]).decision
    assert d.rule_id == "crimea-suspended"


def test_version_row_deleted_or_added_is_refused(app, ukraine, store_url, tmp_path, sec):
    sec.apply_approved(app, ukraine["ua"])
    v2 = tmp_path / "v2.yaml"
    v2.write_text(
        ukraine["ua"].read_text().replace("PL | SK | HU | RO | MD", "PL | SK | HU | RO | MD | LT")
    )
    sec.apply_approved(app, v2)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # roll back to version 1 by deleting version 2's row
        conn.execute(sa.text("DELETE FROM policy_versions WHERE version = 2"))
    engine.dispose()
    with pytest.raises(IntegrityError, match="ends at version 1 but the log attests version 2"):
        decide(app, ALICE, "T1", *KHARKIV)


def test_terminal_table_edit_is_refused(app, ukraine, store_url, sec):
    sec.apply_approved(app, ukraine["ua"])
    import_file(app, ALICE, ukraine["terms"])
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # a terminal of nobody's whitelisted into Ukraine
        conn.execute(
            sa.text(
                "INSERT INTO terminals (terminal_id, country, plan, whitelists, speed_exempt, "
                "record_json, created_at, updated_at, log_index) VALUES ('X9', 'UA', 'fixed', "
                "'[\"UA\"]', false, :j, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"
            ),
            {"j": json.dumps({"id": "X9", "country": "UA", "plan": "fixed", "whitelists": ["UA"]})},
        )
    engine.dispose()
    with pytest.raises(IntegrityError, match="terminal table .* is not the registry the log"):
        decide(app, ALICE, "X9", *KHARKIV)
    with Store.open(store_url, key_dir=app.settings.data_dir / "keys") as store:
        report = store.verify()
        assert (
            not report.ok and "terminals: 'X9' is in the table but not in the log" in report.problem
        )
        # and no write builds on the edited table
        with pytest.raises(IntegrityError, match="terminal table"):
            store.put_terminal({"id": "Y"}, actor="alice", reason="r")


def test_pending_change_edited_before_approval_is_refused(app, ukraine, store_url):
    from skyfence.app.changes import approve, propose, show_pending

    bob = Principal.local("bob", os_user="bob")
    res = propose(app, ALICE, ukraine["ua"], reason="start")
    assert res.status == "pending"
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # the approver would see and approve a different document
        text = conn.execute(sa.text("SELECT document_json FROM pending_changes")).scalar_one()
        conn.execute(
            sa.text("UPDATE pending_changes SET document_json = :t"), {"t": _crimea_active(text)}
        )
    engine.dispose()
    with pytest.raises(IntegrityError, match="pending change 1 in the table is not the request"):
        show_pending(app, bob, res.change_id)
    with pytest.raises(IntegrityError, match="pending change 1 in the table is not the request"):
        approve(app, bob, res.change_id)


def test_forged_log_entry_is_never_signed(app, ukraine, store_url, sec):
    """Someone with write access to the database but not the key appends a well-formed
    entry (and rewrites the state tables to match): skyfence refuses to build on it."""
    sec.apply_approved(app, ukraine["ua"])
    keys = app.settings.data_dir / "keys"
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:  # drop the latest checkpoint: the head is no longer signed
        conn.execute(
            sa.text("DELETE FROM checkpoints WHERE id = (SELECT MAX(id) FROM checkpoints)")
        )
    engine.dispose()
    with Store.open(store_url, key_dir=keys) as store:
        with pytest.raises(IntegrityError, match="not covered by a signed checkpoint"):
            store.put_terminal({"id": "Z"}, actor="alice", reason="r")
        with pytest.raises(IntegrityError, match="not covered by a signed checkpoint"):
            store.policy_in_force()


def test_signing_key_swapped_in_the_database_is_refused(app, ukraine, store_url, tmp_path, sec):
    """Replacing the public key in the database (to sign forged checkpoints with another
    key) does not make skyfence trust them: it checks with this host's key file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from skyfence.store._time import iso_utc
    from skyfence.store.keys import checkpoint_message

    sec.apply_approved(app, ukraine["ua"])
    forger = Ed25519PrivateKey.generate()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        cp = conn.execute(
            sa.text(
                "SELECT id, tree_size, root_hash, created_at, key_id FROM checkpoints "
                "ORDER BY id DESC LIMIT 1"
            )
        ).one()
        created = cp.created_at if not isinstance(cp.created_at, str) else None
        if created is None:
            from datetime import datetime

            created = datetime.fromisoformat(cp.created_at)
        raw = forger.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        conn.execute(
            sa.text("UPDATE signing_keys SET public_key = :k WHERE key_id = :i"),
            {"k": raw, "i": cp.key_id},
        )
        sig = forger.sign(
            checkpoint_message(cp.tree_size, bytes(cp.root_hash), iso_utc(created), cp.key_id)
        )
        conn.execute(
            sa.text("UPDATE checkpoints SET signature = :s WHERE id = :i"), {"s": sig, "i": cp.id}
        )
    engine.dispose()
    with pytest.raises(IntegrityError, match="not signed by a key this store trusts"):
        decide(app, ALICE, "T1", *KHARKIV)


def test_log_verify_database_reports_the_edit_from_the_cli(
    ukraine, isolated_env, capsys, sec, world_loaded
):
    """The same table edit through the CLI: `log verify --database` exits 1 naming it."""
    from skyfence.app import App
    from skyfence.cli.main import main

    app = App()
    sec.apply_approved(app, ukraine["ua"])
    engine = sa.create_engine(app.settings.resolved_database_url())
    with engine.begin() as conn:
        text = conn.execute(sa.text("SELECT document_json FROM policy_versions")).scalar_one()
        conn.execute(
            sa.text("UPDATE policy_versions SET document_json = :t"), {"t": _crimea_active(text)}
        )
    engine.dispose()
    assert main(["log", "verify", "--database"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skyfence: error: database: policy_versions: version 1")
    assert main(["decide", *map(str, SIMFEROPOL), "--terminal", "G1"]) == 1
    assert "policy version 1 in the table is not" in capsys.readouterr().err
