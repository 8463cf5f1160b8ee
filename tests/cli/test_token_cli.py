"""``skyfence token``: create (shown once), list, revoke on the local database; the log
records who did it, as the local principal (``via: cli``)."""

from __future__ import annotations

import json

from skyfence.cli.main import main


def test_create_list_revoke(isolated_env, capsys):
    assert main(["token", "create", "--principal", "Alice", "--role", "admin", "--role",
                 "viewer", "--expires", "2h", "--operator", "root", "--json"]) == 0  # fmt: skip
    made = json.loads(capsys.readouterr().out)
    assert made["token"].startswith(f"sft_{made['token_id']}_")
    assert (made["principal"], made["roles"], made["state"]) == (
        "alice",
        ["admin", "viewer"],
        "active",
    )
    assert main(["token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [t["token_id"] for t in listed] == [made["token_id"]]
    assert "token" not in listed[0]  # never shown again
    assert main(["token", "revoke", made["token_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "revoked"
    assert main(["log", "show", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    create = next(e for e in entries if e["kind"] == "token.create")
    assert create["author"] == "root"
    assert create["entry"]["data"]["actor"]["via"] == "cli"
    assert made["token"] not in json.dumps(entries)


def test_bad_input_is_one_line(isolated_env, capsys):
    assert main(["token", "create", "--principal", "bob", "--role", "boss"]) == 1
    err = capsys.readouterr().err
    assert "unknown role(s) boss" in err and err.count("\n") == 1
    assert main(["token", "create", "--principal", "bob", "--role", "viewer",
                 "--expires", "soon"]) == 1  # fmt: skip
    assert "30d" in capsys.readouterr().err
    assert main(["token", "revoke", "nope"]) == 1
    assert "no token" in capsys.readouterr().err
