"""The second person is a person: spoofed names, the same OS account, a caller's flag, and
the race between reading the version in force and taking the write lock.

On the parent commit: alice approved her own change as each spoofed name below;
``Store.apply_policy(doc, requires_approval=False)`` applied a sensitive change at once; and
an apply built on version 1 went in unapproved after "suspend Crimea" became version 2,
serving Crimea again.
"""

from __future__ import annotations

import threading

import pytest

from skyfence.app.changes import approve, propose
from skyfence.app.decide import decide
from skyfence.app.identity import Principal
from skyfence.errors import ConflictError, PermissionDeniedError
from skyfence.store import Store

SPOOFS = ["Alice", "alice ", " alice", "ａｌｉｃｅ", "alice\u200b", "ALICE\u00ad", "al\u2060ice\t"]


@pytest.mark.parametrize("name", SPOOFS, ids=repr)
def test_requester_cannot_approve_under_another_spelling(app, ukraine, sec, name):
    res = propose(app, sec.ALICE, ukraine["ua"], reason="start")
    assert res.status == "pending"
    spoof = Principal.local(name, os_user="someone-else")
    with pytest.raises(PermissionDeniedError, match="cannot also approve"):
        approve(app, spoof, res.change_id)
    with pytest.raises(PermissionDeniedError, match="cannot also approve"):
        with Store.open(settings=app.settings) as store:
            store.approve(res.change_id, actor=name)  # the library path compares the same way
    assert approve(app, sec.BOB, res.change_id).version == 1


def test_same_os_account_is_refused_by_default_and_marked_when_allowed(app, ukraine, sec):
    from skyfence.app.changes import set_store_setting

    res = propose(app, Principal.local("alice", os_user="ops"), ukraine["ua"], reason="start")
    bob_at_ops = Principal.local("bob", os_user="ops")
    with pytest.raises(PermissionDeniedError, match="same OS account"):
        approve(app, bob_at_ops, res.change_id)
    # turning the rule off is itself logged, and the approval says what happened
    set_store_setting(app, sec.CAROL, "require_distinct_os_users", False, reason="sandbox")
    ok = approve(app, bob_at_ops, res.change_id)
    assert ok.flags == ["same-os-user"]
    with Store.open(settings=app.settings) as store:
        kinds = [(e.kind, e.entry["data"].get("flags")) for e in store.log.entries()]
    assert ("store.setting", None) in kinds and ("policy.approve", ["same-os-user"]) in kinds
    # a token holder is a second credential, whatever account the service runs under
    res2 = propose(
        app, Principal.local("alice", os_user="ops"), _crimea_lifted(ukraine), reason="lift"
    )
    set_store_setting(app, sec.CAROL, "require_distinct_os_users", True, reason="production")
    token = Principal.from_token("dana", ["approver"])
    assert approve(app, token, res2.change_id).flags == []


def _crimea_lifted(ukraine):
    path = ukraine["dir"] / "lifted.yaml"
    path.write_text(
        ukraine["ua"].read_text().replace("    state: suspended\n", "    state: active\n"),
        encoding="utf-8",
    )
    return path


def test_no_caller_flag_skips_the_second_person(app, ukraine, sec):
    with Store.open(settings=app.settings) as store:
        with pytest.raises(TypeError):
            store.apply_policy(
                {"rules": []}, actor="alice", reason="r", base_version=0, requires_approval=False
            )
        from skyfence.policy import load_policy

        res = store.apply_policy(
            load_policy(ukraine["ua"]), actor="alice", reason="r", base_version=0
        )
        assert res.status == "pending" and res.sensitive
    # roles do not replace the rule either: an admin is still one person
    admin = Principal.from_token("root", ["admin"])
    res = propose(app, admin, _crimea_lifted(ukraine), reason="r")
    with pytest.raises(PermissionDeniedError, match="cannot also approve"):
        approve(app, admin, res.change_id)


def test_viewer_cannot_change_anything(app, ukraine):
    viewer = Principal.from_token("eve", ["viewer", "terminal-gateway"])
    with pytest.raises(PermissionDeniedError, match="needs the operator role"):
        propose(app, viewer, ukraine["ua"], reason="r")


def test_stale_apply_is_refused_after_crimea_was_suspended(app, ukraine, sec, tmp_path):
    """Version 1 serves Crimea; alice asks to suspend it (sensitive); carol, reading version
    1, prepares an unrelated change (Lithuania). Bob approves the suspension as version 2.
    Carol's change — still built on version 1, so without the suspension — must not go in."""
    v1 = _crimea_lifted(ukraine)
    assert sec.apply_approved(app, v1) == 1
    suspend = propose(app, sec.ALICE, ukraine["ua"], reason="suspend Crimea")
    carol_base = 1  # what carol read before the approval
    lt = tmp_path / "lt.yaml"
    lt.write_text(
        v1.read_text().replace("PL | SK | HU | RO | MD", "PL | SK | HU | RO | MD | LT"),
        encoding="utf-8",
    )
    assert approve(app, sec.BOB, suspend.change_id).version == 2
    with pytest.raises(ConflictError, match="built on policy version 1, but version 2"):
        propose(app, sec.CAROL, lt, reason="add LT", base_version=carol_base)
    # claiming it was built on version 2 does not help: judged against version 2, dropping
    # the suspension is sensitive and waits for a second person
    res = propose(app, sec.CAROL, lt, reason="add LT", base_version=2)
    assert res.status == "pending" and any("crimea" in r for r in res.reasons)
    d = decide(app, sec.ALICE, "G1", *sec.SIMFEROPOL).decision
    assert (d.allowed, d.rule_id) == (False, "crimea-suspended")


def test_concurrent_applies_one_wins_and_its_diff_is_what_it_replaced(app, ukraine, sec, tmp_path):
    """Two people apply different non-sensitive changes built on the same version at the
    same moment: every round one is applied and the other refused (never lost), and the
    diff the winner reports is the one between the version it replaced and its own."""
    from skyfence.policy import Policy, diff_policies
    from skyfence.store.rules import describe_changes

    assert sec.apply_approved(app, ukraine["ua"]) == 1
    base = ukraine["ua"].read_text()
    for round_ in range(4):
        with Store.open(settings=app.settings) as store:
            version = store.state().policy_version
        files = []
        for who, extra in (("a", f"LT{'| EE' * round_}"), ("b", f"LV{'| FI' * round_}")):
            path = tmp_path / f"{who}{round_}.yaml"
            path.write_text(
                base.replace("PL | SK | HU | RO | MD", f"PL | SK | HU | RO | MD | {extra}"),
                encoding="utf-8",
            )
            files.append(path)
        results: dict[str, object] = {}
        barrier = threading.Barrier(2)

        def run(who, path, principal, barrier=barrier, results=results, version=version):
            barrier.wait()
            try:
                results[who] = propose(app, principal, path, reason=who, base_version=version)
            except ConflictError as exc:
                results[who] = exc

        threads = [
            threading.Thread(target=run, args=("a", files[0], sec.ALICE)),
            threading.Thread(target=run, args=("b", files[1], sec.CAROL)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        applied = [r for r in results.values() if not isinstance(r, ConflictError)]
        refused = [r for r in results.values() if isinstance(r, ConflictError)]
        assert len(applied) == 1 and len(refused) == 1, results
        winner = applied[0]
        assert (winner.version, winner.base_version) == (version + 1, version)
        assert f"built on policy version {version}, but version {version + 1}" in str(refused[0])
        with Store.open(settings=app.settings) as store:
            old = Policy.from_document(store.policy_document(version))
            new = Policy.from_document(store.policy_document(version + 1))
        expected = describe_changes(diff_policies(old, new, cells=False, resolve=lambda e: None))
        assert winner.changes == expected and expected
