"""The decision snapshot across log heads: a head that moved without changing the version in
force (a pending proposal, a token) keeps the snapshot with the latest checkpoint, exactly
what a process reading everything afresh answers; a new version is read anew."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from skyfence.app import App
from skyfence.app.changes import approve, propose
from skyfence.app.decide import decide
from skyfence.app.identity import Principal
from skyfence.app.tokens import create
from skyfence.errors import IntegrityError
from skyfence.settings import load_settings
from skyfence.store import Store

ALICE = Principal.local("alice", os_user="alice")
BOB = Principal.local("bob", os_user="bob")
GATEWAY = Principal.from_token("gw-1", ["terminal-gateway"])
WARSAW = (52.23, 21.01)


def _doc(state: str, extra: str = "") -> dict:
    rules = [{"id": "pl", "region": "PL", "state": state}]
    if extra:
        rules.append({"id": extra, "region": "DE", "state": "active"})
    return {"rules": rules}


@pytest.fixture()
def app(tmp_path):
    a = App(load_settings(data_dir=tmp_path / "data"))
    propose(a, ALICE, _doc("active"), reason="start")
    return a


def _fresh(app: App, *where: float):
    """The same decision from a process that has read nothing yet."""
    return decide(App(app.settings), GATEWAY, "T1", *where)


def test_a_pending_proposal_keeps_the_version_and_moves_the_provenance(app):
    before = decide(app, GATEWAY, "T1", *WARSAW)
    res = propose(app, ALICE, _doc("active", "x1"), reason="review", request_review=True)
    assert res.status == "pending"
    after = decide(app, GATEWAY, "T1", *WARSAW)
    fresh = _fresh(app, *WARSAW)
    assert after.policy_version == before.policy_version == fresh.policy_version == 1
    assert after.decision.allowed and after.decision.rule_id == "pl"
    assert after.provenance == fresh.provenance
    assert after.provenance.tree_size > before.provenance.tree_size
    create(app, ALICE, "gw-2", ["terminal-gateway"])  # a token moves the head too
    assert decide(app, GATEWAY, "T1", *WARSAW).provenance == _fresh(app, *WARSAW).provenance


def test_a_new_version_is_read_anew(app):
    decide(app, GATEWAY, "T1", *WARSAW)
    res = propose(app, ALICE, _doc("suspended"), reason="review", request_review=True)
    assert decide(app, GATEWAY, "T1", *WARSAW).decision.allowed
    approve(app, BOB, res.change_id)
    after = decide(app, GATEWAY, "T1", *WARSAW)
    assert after.policy_version == 2 and not after.decision.allowed
    assert after.provenance == _fresh(app, *WARSAW).provenance


def test_a_table_edit_never_reaches_a_process_that_authenticated_the_version(app):
    decide(app, GATEWAY, "T1", *WARSAW)
    engine = sa.create_engine(app.settings.resolved_database_url())
    with engine.begin() as conn:  # Poland suspended, by editing the version in force
        text = conn.execute(sa.text("SELECT document_json FROM policy_versions")).scalar_one()
        edited = text.replace('"state":"active"', '"state":"suspended"')
        assert edited != text
        conn.execute(sa.text("UPDATE policy_versions SET document_json = :t"), {"t": edited})
    engine.dispose()
    with pytest.raises(IntegrityError):  # nothing is built on the edited version
        propose(app, ALICE, _doc("active", "x2"), reason="review", request_review=True)
    create(app, ALICE, "gw-2", ["terminal-gateway"])  # but a token moves the head
    # the head moved, the log attests the same version: this process keeps what it
    # authenticated (the edit does not reach its decisions) ...
    assert decide(app, GATEWAY, "T1", *WARSAW).decision.allowed
    # ... and a process that reads the tables refuses, naming the version
    with pytest.raises(IntegrityError, match="policy version 1 in the table is not"):
        _fresh(app, *WARSAW)
    with Store.open(settings=app.settings) as store, pytest.raises(IntegrityError):
        store.check_state()
