"""`skyfence policy ...`, `skyfence terminal ...` and `skyfence decide`, run in-process."""

from __future__ import annotations

import json

import pytest
import yaml

from clirun import run, run_json
from skyfence.policy import example_text

KHARKIV = ["49.99", "36.23"]
MARCH = "2026-03-01T12:00:00Z"


@pytest.fixture(scope="module")
def world_loaded():
    from skyfence.regions import world

    world().index()


@pytest.fixture()
def files(tmp_path):
    ua = tmp_path / "ua.yaml"
    ua.write_text(example_text("ukraine-2026"))
    terms = tmp_path / "terms.csv"
    terms.write_text(
        "id,country,plan,whitelists,speed_exempt\n"
        "W1,UA,fixed,UA,false\n"
        "G1,UA,government,UA;PL,false\n"
    )
    return {"ua": ua, "terms": terms, "dir": tmp_path}


def test_example_list_and_text(capsys):
    assert run_json(capsys, "policy", "example", "--list") == ["taiwan-activation", "ukraine-2026"]
    code, out, _ = run(capsys, "policy", "example", "ukraine-2026")
    assert code == 0 and yaml.safe_load(out)["name"] == "ukraine-2026"
    doc = run_json(capsys, "policy", "example", "taiwan-activation")
    assert doc["name"] == "taiwan-activation" and doc["rules"][0]["id"] == "tw-pending"


def test_example_unknown_is_one_line_error(capsys):
    code, _, err = run(capsys, "policy", "example", "narnia")
    assert code == 1
    assert err.startswith(
        "skyfence: error: no example policy 'narnia'; examples are: taiwan-activation, ukraine-2026"
    )


def test_validate(capsys, files, world_loaded):
    out = run_json(capsys, "policy", "validate", str(files["ua"]))
    assert out["valid"] and out["rules"] == 4 and out["terminal_rules"] == 6
    bad = files["dir"] / "bad.yaml"
    text = (
        example_text("ukraine-2026")
        .replace("region: crimea\n", "region: atlantis\n")
        .replace("state: denied", "state: deny")
    )
    bad.write_text(text)
    lines = text.splitlines()
    atl = next(i for i, s in enumerate(lines, 1) if "atlantis" in s)
    deny = next(i for i, s in enumerate(lines, 1) if "state: deny" in s)
    code, out, err = run(capsys, "policy", "validate", str(bad))
    assert code == 1
    assert f"bad.yaml line {atl}: region 'atlantis'" in out
    assert f"bad.yaml line {deny}: state 'deny' is not one of" in out
    assert (
        err.startswith(f"skyfence: error: bad.yaml line {atl}: region 'atlantis'")
        and err.count("\n") == 1
    )
    code, out, _ = run(capsys, "policy", "validate", str(bad), "--json")
    assert code == 1
    assert [p["line"] for p in json.loads(out)["problems"]] == [atl, deny]


def test_diff_files(capsys, files, world_loaded):
    new = files["dir"] / "new.yaml"
    new.write_text(
        example_text("ukraine-2026").replace(
            "    state: suspended\n    effective_from: 2022-02-26T00:00:00Z",
            "    state: active\n    effective_from: 2022-02-26T00:00:00Z",
        )
    )
    d = run_json(capsys, "policy", "diff", str(files["ua"]), str(new), "--at", MARCH)
    assert [(c["id"], c["change"], c["fields"]) for c in d["changes"]] == [
        ("crimea-suspended", "changed", ["state"])
    ]
    assert d["regions"] == ["crimea"]
    # Crimea is ~27,000 km², H3 res-5 cells ~252 km²: about a hundred cells change
    assert 80 < d["cells_changed"] < 140
    assert d["cell_transitions"] == {"suspended -> active": d["cells_changed"]}
    assert d["sensitive"]


def test_decide_from_files(capsys, files, world_loaded):
    common = ["--policy", str(files["ua"]), "--terminals", str(files["terms"]), "--time", MARCH]
    d = run_json(capsys, "decide", *KHARKIV, "--terminal", "W1", "--speed", "60", *common)
    assert d["allowed"] and d["rule_id"] == "ua-active" and d["country"] == "UA"
    d = run_json(capsys, "decide", *KHARKIV, "--terminal", "W1", "--speed", "120", *common)
    assert (d["allowed"], d["reason"], d["rule_id"]) == (False, "speed", "ua-speed-75")
    d = run_json(capsys, "decide", "44.95", "34.10", "--terminal", "G1", *common)
    assert (d["allowed"], d["state"], d["rule_id"]) == (False, "suspended", "crimea-suspended")
    # negative coordinates: Rio de Janeiro is not licensed in this policy
    d = run_json(capsys, "decide", "-22.9", "-43.2", "--terminal", "W1", *common)
    assert (d["allowed"], d["state"], d["country"]) == (False, "not_licensed", "BR")
    code, out, _ = run(
        capsys, "decide", "--terminal", "W1", *common, "--json", "--", "-22.9", "-43.2"
    )
    assert code == 0 and json.loads(out)["country"] == "BR"
    code, out, _ = run(capsys, "decide", *KHARKIV, "--terminal", "X", *common)
    assert code == 0 and "DENIED" in out and "ua-whitelist" in out


def test_show_file_time_travel(capsys, files):
    early = run_json(
        capsys, "policy", "show", "--file", str(files["ua"]), "--at", "2026-01-15T00:00:00Z"
    )
    late = run_json(capsys, "policy", "show", "--file", str(files["ua"]), "--at", MARCH)
    ids = {r["id"] for r in late["terminal_rules_in_force"]} - {
        r["id"] for r in early["terminal_rules_in_force"]
    }
    assert ids == {"ua-whitelist", "ua-speed-75"}
    code, out, _ = run(
        capsys, "policy", "show", "--file", str(files["ua"]), "--at", "2020-01-01T00:00:00Z"
    )
    assert code == 0 and "ua-active" not in out and "neighbours-active" in out


def test_decide_bad_input_is_an_error(capsys, files):
    code, _, err = run(
        capsys,
        "decide",
        *KHARKIV,
        "--terminal",
        "W1",
        "--time",
        "yesterday-ish",
        "--policy",
        str(files["ua"]),
    )
    assert code == 1 and "cannot read time" in err


def test_store_flow(capsys, files, isolated_env, world_loaded):
    # terminals
    out = run_json(
        capsys,
        "terminal",
        "add",
        "W1",
        "--country",
        "ua",
        "--plan",
        "fixed",
        "--whitelist",
        "UA",
        "--operator",
        "alice",
    )
    assert out["terminal"]["country"] == "UA" and out["terminal"]["whitelists"] == ["UA"]
    out = run_json(capsys, "terminal", "import", str(files["terms"]), "--operator", "alice")
    assert out["imported"] == 2
    assert run_json(capsys, "terminal", "show", "G1")["whitelists"] == ["UA", "PL"]
    assert [t["id"] for t in run_json(capsys, "terminal", "list")] == ["G1", "W1"]
    code, _, err = run(
        capsys, "terminal", "add", "Z", "--country", "UA", "--plan", "yacht", "--operator", "a"
    )
    assert (
        code == 1
        and "plan 'yacht' is not one of fixed, roam, maritime, aviation, government" in err
    )
    code, _, err = run(capsys, "terminal", "show", "nope")
    assert code == 1 and "no terminal 'nope'" in err

    # no policy yet
    assert run_json(capsys, "policy", "show")["version"] is None
    code, _, err = run(capsys, "decide", *KHARKIV, "--terminal", "W1")
    assert code == 1 and "no stored policy version was in force" in err

    # the first policy has sensitive rules: it waits for a second person
    res = run_json(
        capsys, "policy", "apply", str(files["ua"]), "--reason", "start", "--operator", "alice"
    )
    assert res["status"] == "pending" and res["requires_approval"] and res["base_version"] == 0
    pending = run_json(capsys, "policy", "pending")
    assert [p["id"] for p in pending] == [res["change_id"]]
    code, _, err = run(capsys, "policy", "approve", str(res["change_id"]), "--operator", " Alice")
    assert code == 1 and "cannot also approve it" in err
    # bob at the same OS account as alice: no second credential, refused by default
    code, _, err = run(capsys, "policy", "approve", str(res["change_id"]), "--operator", "bob")
    assert code == 1 and "same OS account" in err and err.count("\n") == 1
    # a single-user sandbox turns the rule off; the switch is logged
    assert run_json(
        capsys, "policy", "settings", "--allow-same-os-user", "--reason", "test sandbox"
    ) == {"require_distinct_os_users": False}
    ok = run_json(capsys, "policy", "approve", str(res["change_id"]), "--operator", "bob")
    assert ok["status"] == "applied" and ok["version"] == 1 and ok["flags"] == ["same-os-user"]
    assert run_json(capsys, "policy", "pending") == []

    shown = run_json(capsys, "policy", "show")
    assert shown["version"] == 1 and {r["id"] for r in shown["rules_in_force"]} >= {
        "ua-active",
        "crimea-suspended",
    }
    # time travel inside the version: before 2026-02-01 the whitelist rule was not in force
    early = run_json(capsys, "policy", "show", "--at", "2026-01-15T00:00:00Z")
    assert early["version"] is None  # the store had no policy then

    # a non-sensitive change applies at once and becomes version 2
    v2 = files["dir"] / "v2.yaml"
    v2.write_text(
        example_text("ukraine-2026").replace(
            "PL | SK | HU | RO | MD", "PL | SK | HU | RO | MD | LT"
        )
    )
    res2 = run_json(capsys, "policy", "apply", str(v2), "--reason", "add LT", "--operator", "alice")
    assert res2["status"] == "applied" and res2["version"] == 2 and not res2["requires_approval"]
    code, _, err = run(capsys, "policy", "apply", str(v2), "--reason", "again", "--operator", "bob")
    assert code == 1 and "identical to policy version 2" in err
    # a change built on version 1 is refused now that version 2 is in force
    code, _, err = run(capsys, "policy", "apply", str(files["ua"]), "--reason", "x", "--base", "1")
    assert code == 1 and "built on policy version 1, but version 2 is in force" in err
    assert "neighbours-active changed (region)" in err

    from skyfence.store import Store

    with Store.open() as store:
        applied_v1 = store.policy_versions()[0].applied_at
        assert store.verify().ok
    at_v1 = run_json(capsys, "policy", "show", "--at", str(applied_v1) + "Z")
    assert at_v1["version"] == 1
    neighbours = next(r for r in at_v1["rules_in_force"] if r["id"] == "neighbours-active")
    assert "LT" not in neighbours["region"]
    assert run_json(capsys, "policy", "show")["version"] == 2
    history = run_json(capsys, "policy", "history")
    assert [(v["version"], v["operator"], v["approved_by"], v["reason"]) for v in history] == [
        (1, "alice", "bob", "start"),
        (2, "alice", None, "add LT"),
    ]
    entries = run_json(capsys, "log", "show", "--limit", "100")["entries"]
    approval = next(e for e in entries if e["kind"] == "policy.approve")
    assert approval["entry"]["data"]["flags"] == ["same-os-user"]
    assert approval["entry"]["data"]["actor"]["via"] == "cli"
    assert approval["entry"]["data"]["actor"]["os_user"]

    # decisions from the stored policy and registry
    d = run_json(capsys, "decide", *KHARKIV, "--terminal", "W1", "--speed", "60")
    assert d["allowed"] and d["rule_id"] == "ua-active"
    d = run_json(capsys, "decide", *KHARKIV, "--terminal", "unknown")
    assert (d["allowed"], d["reason"]) == (False, "whitelist")
    d = run_json(capsys, "decide", "54.69", "25.28", "--terminal", "W1")  # Vilnius, active since v2
    # a request time before the first stored version: no policy was in force then
    code, _, err = run(capsys, "decide", *KHARKIV, "--terminal", "W1", "--time", MARCH)
    assert code == 1 and "(the first version was applied at 20" in err
    assert d["allowed"] and d["rule_id"] == "neighbours-active"

    # diff against the policy in force
    d = run_json(capsys, "policy", "diff", "current", str(files["ua"]), "--no-cells")
    assert [(c["id"], c["change"]) for c in d["changes"]] == [("neighbours-active", "changed")]


def test_validate_refuses_devices_instead_of_reading_forever(capsys):
    # `policy validate /dev/zero` read without end (the process was killed for its memory)
    code, _, err = run(capsys, "policy", "validate", "/dev/zero")
    assert code == 1 and "regular file" in err and len(err.strip().splitlines()) == 1
