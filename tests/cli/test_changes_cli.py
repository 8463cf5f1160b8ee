"""`skyfence policy show-pending | reject | rebase | settings`, `terminal delete`, and the
log's trusted checkpoints, run in-process as two people on two OS accounts."""

from __future__ import annotations

import json

import pytest

from clirun import run, run_json
from skyfence.cli.main import main
from skyfence.policy import example_text

BASE = """\
name: base
sensitive_regions: [crimea]
rules:
  - {id: ua, region: UA, state: active}
  - {id: crimea, region: crimea, state: suspended, sensitive: true}
"""


@pytest.fixture(scope="module")
def world_loaded():
    from skyfence.regions import world

    world().index()


@pytest.fixture()
def people(monkeypatch):
    """Switch the OS account the CLI sees (as two logins on one machine would)."""
    import skyfence.app.identity as identity

    def login(account: str) -> None:
        monkeypatch.setattr(identity, "current_os_user", lambda: account)

    login("alice")
    return login


def test_show_pending_reject_and_rebase(capsys, tmp_path, isolated_env, people, world_loaded):
    base, lift, poland = (tmp_path / n for n in ("base.yaml", "lift.yaml", "pl.yaml"))
    base.write_text(BASE)
    lift.write_text(BASE.replace("state: suspended", "state: active"))
    poland.write_text(BASE + "  - {id: pl, region: PL, state: active}\n")

    first = run_json(capsys, "policy", "apply", str(base), "--reason", "start")
    assert first["status"] == "pending"
    people("bob")
    assert run_json(capsys, "policy", "approve", str(first["change_id"]))["version"] == 1

    people("alice")
    req = run_json(capsys, "policy", "apply", str(lift), "--reason", "lift")
    people("carol")
    assert run_json(capsys, "policy", "apply", str(poland), "--reason", "add PL")["version"] == 2

    people("bob")  # the approver reads the whole change before deciding
    shown = run_json(capsys, "policy", "show-pending", str(req["change_id"]))
    assert shown["stale"] and (shown["base_version"], shown["current_version"]) == (1, 2)
    assert [c["id"] for c in shown["changes"]] == ["crimea"]
    assert [c["id"] for c in shown["since_base"]] == ["pl"]
    assert shown["document"]["rules"][1] == {
        **shown["document"]["rules"][1],
        "id": "crimea",
        "state": "active",
    }
    assert shown["requesters"][0]["os_user"] == "alice"
    code, out, _ = run(capsys, "policy", "show-pending", str(req["change_id"]))
    assert code == 0 and "STALE" in out and "state: active" in out

    code, _, err = run(capsys, "policy", "approve", str(req["change_id"]))
    assert code == 1 and "rebase" in err and err.count("\n") == 1
    rebased = run_json(capsys, "policy", "rebase", str(req["change_id"]), "--reason", "onto v2")
    assert rebased["status"] == "pending" and rebased["base_version"] == 2
    people("dana")
    code, _, err = run(capsys, "policy", "reject", str(rebased["change_id"]), "--reason", "no")
    assert code == 0
    assert run_json(capsys, "policy", "pending") == []
    history = run_json(capsys, "policy", "history")
    assert [v["version"] for v in history] == [1, 2]


def test_settings_are_logged(capsys, isolated_env, people):
    assert run_json(capsys, "policy", "settings") == {"require_distinct_os_users": True}
    code, _, err = run(capsys, "policy", "settings", "--allow-same-os-user")
    assert code == 1 and "needs --reason" in err
    out = run_json(capsys, "policy", "settings", "--allow-same-os-user", "--reason", "sandbox")
    assert out == {"require_distinct_os_users": False}
    entries = run_json(capsys, "log", "show")["entries"]
    assert [e["kind"] for e in entries if e["kind"] == "store.setting"] == ["store.setting"]


def test_terminal_delete_and_validation(capsys, isolated_env, people, world_loaded):
    code, _, err = run(
        capsys, "terminal", "add", "T1", "--country", "ZZ", "--plan", "fixed", "--whitelist", "UA"
    )
    assert code == 1 and "not a country of the worldview" in err
    code, _, err = run(
        capsys, "terminal", "add", "T1", "--country", "UA", "--plan", "fixed", "--whitelist", "UAA"
    )
    assert code == 1 and "whitelist 'UAA'" in err and "did you mean UA" in err
    run_json(
        capsys, "terminal", "add", "T1", "--country", "UA", "--plan", "fixed", "--whitelist", "UA"
    )
    out = run_json(capsys, "terminal", "delete", "T1", "--reason", "returned")
    assert out["terminal_id"] == "T1"
    assert run_json(capsys, "terminal", "list") == []
    entry = run_json(capsys, "log", "show")["entries"][-1]
    assert entry["kind"] == "terminal.delete" and entry["entry"]["data"]["actor"]["via"] == "cli"


def test_log_trusted_checkpoint(capsys, tmp_path, isolated_env, people, world_loaded):
    base = tmp_path / "ua.yaml"
    base.write_text(example_text("ukraine-2026"))
    run_json(capsys, "terminal", "add", "T1", "--country", "UA", "--plan", "fixed")
    old, key, pin = tmp_path / "old.jsonl", tmp_path / "k.pem", tmp_path / "pin.json"
    assert main(["log", "export", str(old)]) == 0
    assert main(["log", "pubkey", "--out", str(key)]) == 0
    capsys.readouterr()
    run_json(capsys, "terminal", "add", "T2", "--country", "PL", "--plan", "roam")
    cp = run_json(capsys, "log", "checkpoint", "--out", str(pin))
    assert json.loads(pin.read_text())["root_hash"] == cp["root_hash"]
    capsys.readouterr()
    code, _, err = run(
        capsys, "log", "verify", str(old), "--key", str(key), "--trusted-checkpoint", str(pin)
    )
    assert code == 1 and "rolled back" in err
    pinned = f"{cp['tree_size']}:{cp['root_hash']}"
    code, _, err = run(capsys, "log", "verify", "--database", "--trusted-checkpoint", pinned)
    assert code == 0, err
    code, _, err = run(
        capsys, "log", "verify", str(old), "--key", str(key), "--trusted-checkpoint", "12:zz"
    )
    assert code == 1 and "expected SIZE:ROOT" in err
