"""Approving an old pending change must not revert what was applied since.

On the parent commit: change 2 was requested on version 1, version 2 added Poland, and
approving change 2 made version 3 without Poland. There was no way to see the pending
document from the CLI, and no reject.
"""

from __future__ import annotations

import pytest

from skyfence.app.changes import approve, propose, rebase, reject, show_pending
from skyfence.app.identity import Principal
from skyfence.errors import ConflictError, PermissionDeniedError
from skyfence.store import Store

BASE = """\
name: base
sensitive_regions: [crimea]
rules:
  - {id: ua, region: UA, state: active}
  - {id: crimea, region: crimea, state: suspended, sensitive: true}
"""


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _versions(app):
    with Store.open(settings=app.settings) as store:
        return store.state().policy_version


def test_stale_approval_is_refused_and_rebase_keeps_both(app, sec, tmp_path):
    assert sec.apply_approved(app, _write(tmp_path, "v1.yaml", BASE)) == 1
    # change 2, requested on version 1: lift the Crimea suspension (sensitive)
    lift = _write(tmp_path, "lift.yaml", BASE.replace("state: suspended", "state: active"))
    pending = propose(app, sec.ALICE, lift, reason="lift")
    assert (pending.status, pending.base_version) == ("pending", 1)
    # meanwhile version 2 adds Poland (not sensitive: applied at once)
    poland = _write(tmp_path, "pl.yaml", BASE + "  - {id: pl, region: PL, state: active}\n")
    assert propose(app, sec.CAROL, poland, reason="add PL").version == 2
    detail = show_pending(app, sec.BOB, pending.change_id)
    assert detail.stale and (detail.base_version, detail.current_version) == (1, 2)
    assert [c.id for c in detail.since_base.changes] == ["pl"]
    assert detail.document["rules"][1]["state"] == "active"
    with pytest.raises(ConflictError, match="built on policy version 1, but version 2.*pl added"):
        approve(app, sec.BOB, pending.change_id)
    assert _versions(app) == 2  # nothing reverted
    # rebase: the lift re-applied on version 2, as a new change that waits for approval
    rebased = rebase(app, sec.CAROL, pending.change_id, reason="rebase onto v2")
    assert (rebased.status, rebased.base_version) == ("pending", 2)
    assert [c["id"] for c in rebased.changes] == ["crimea"]
    assert show_pending(app, sec.BOB, pending.change_id).change.status == "superseded"
    # everyone who shaped it is a requester: neither alice nor carol may approve it
    for who in (sec.ALICE, sec.CAROL):
        with pytest.raises(PermissionDeniedError, match="cannot also approve"):
            approve(app, who, rebased.change_id)
    v3 = approve(app, sec.BOB, rebased.change_id)
    with Store.open(settings=app.settings) as store:
        doc = store.policy_document(v3.version)
        assert store.verify().ok
    rules = {r["id"]: r["state"] for r in doc["rules"]}
    assert rules == {"ua": "active", "crimea": "active", "pl": "active"}


def test_rebase_refuses_a_conflict(app, sec, tmp_path):
    sec.apply_approved(app, _write(tmp_path, "v1.yaml", BASE))
    pending = propose(
        app,
        sec.ALICE,
        _write(tmp_path, "a.yaml", BASE.replace("state: suspended", "state: active")),
        reason="a",
    )
    denied = BASE.replace("state: suspended", "state: denied")
    sec.apply_approved(app, _write(tmp_path, "b.yaml", denied))  # the same rule, changed otherwise
    with pytest.raises(ConflictError, match="cannot rebase: .*rules 'crimea'"):
        rebase(app, sec.CAROL, pending.change_id)
    assert show_pending(app, sec.BOB, pending.change_id).change.status == "pending"


def test_reject_by_an_approver_or_the_requester_only(app, sec, tmp_path):
    sec.apply_approved(app, _write(tmp_path, "v1.yaml", BASE))
    lift = _write(tmp_path, "lift.yaml", BASE.replace("state: suspended", "state: active"))
    first = propose(app, sec.ALICE, lift, reason="lift")
    operator_only = Principal.from_token("otto", ["operator"])
    with pytest.raises(PermissionDeniedError, match="only an approver, or the person"):
        reject(app, operator_only, first.change_id, reason="no")
    reject(app, sec.ALICE, first.change_id, reason="withdrawn")  # the requester withdraws
    second = propose(app, sec.ALICE, lift, reason="lift again")
    reject(app, sec.BOB, second.change_id, reason="not now")
    with pytest.raises(ConflictError, match="is rejected, not pending"):
        approve(app, sec.BOB, second.change_id)
    assert _versions(app) == 1


def test_show_pending_of_a_change_applied_at_once(app, sec, tmp_path):
    sec.apply_approved(app, _write(tmp_path, "v1.yaml", BASE))
    applied = propose(
        app,
        sec.CAROL,
        _write(tmp_path, "pl.yaml", BASE + "  - {id: pl, region: PL, state: active}\n"),
        reason="pl",
    )
    detail = show_pending(app, sec.BOB, applied.change_id)
    assert detail.change.status == "applied" and not detail.stale
    assert [c.id for c in detail.diff.changes] == ["pl"]
    assert detail.requesters[0]["name"] == "carol"
