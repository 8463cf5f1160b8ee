"""A live server (``skyfence serve`` in a subprocess, on 127.0.0.1): the curl examples of
docs/service.md run against it, and SIGKILL in the middle of a burst of approvals and of a
large import leaves a database whose log verifies and whose state is the old or the new."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from tests.service.conftest import POLICY, root, start_server, stop_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.postgres
def test_the_curl_examples_of_the_docs_run_against_a_live_server(live):
    server, tokens = live
    blocks = _sh_blocks()
    assert len(blocks) >= 5
    env = {
        **os.environ,
        "URL": server.url,
        "ADMIN": tokens["admin"],
        "OPERATOR": tokens["operator"],
        "APPROVER": tokens["approver"],
        "GATEWAY": tokens["terminal-gateway"],
    }
    for block in blocks:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, (block, done.stdout[-500:], done.stderr[-500:])


def _verify(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "skyfence.cli.main", "log", "verify", "--database"], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def test_sigkill_during_a_burst_of_approvals_and_a_large_import(live, tmp_path):
    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.settings import load_settings

    server, tokens = live
    env = server.env
    app = App(load_settings(data_dir=env["SKYFENCE_DATA_DIR"],
                            database_url=env["SKYFENCE_DATABASE_URL"],
                            cache_dir=env["SKYFENCE_CACHE_DIR"]))  # fmt: skip
    changes = []
    for n in range(12):
        rules = [*POLICY["rules"], {"id": f"x{n}", "region": "CZ", "state": "active"}]
        changes.append(
            propose(app, root(), {"rules": rules}, reason=f"c{n}", request_review=True).change_id
        )
    headers = {"Authorization": f"Bearer {tokens['approver']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    big = [{"id": f"T{i}", "country": "PL", "plan": "fixed"} for i in range(3000)]
    stop = threading.Event()

    def burst() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for cid in changes:
                if stop.is_set():
                    return
                try:
                    c.post(f"/v1/policy/changes/{cid}/approve", headers=headers)
                    c.post(f"/v1/policy/changes/{cid}/reject", headers=headers)
                except httpx.HTTPError:
                    return

    def imports() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for record in big:
                if stop.is_set():
                    return
                try:
                    c.put(f"/v1/terminals/{record['id']}", json=record, headers=admin)
                except httpx.HTTPError:
                    return

    threads = [threading.Thread(target=burst), threading.Thread(target=imports)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    out = _verify(env)
    assert "ok" in out.lower() or "verified" in out.lower()
    # restart: the service answers, and the state is what the log attests
    again = start_server(env)
    try:
        with httpx.Client(base_url=again.url, timeout=30) as c:
            version = c.get("/v1/policy", headers=headers).json()["version"]
            log = c.get("/v1/log/checkpoint").json()
            assert version >= 1 and log["tree_size"] > 0
            r = c.post("/v1/decisions", headers=headers,
                       json={"terminal_id": "T1", "latitude_deg": 52, "longitude_deg": 21})  # fmt: skip
            assert r.status_code == 200 and r.json()["policy_version"] == version
    finally:
        stop_server(again)
    _verify(env)


def _remote(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skyfence.cli.main", "remote", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_remote_cli_and_client_drive_a_live_service(live, tmp_path):
    import json

    from skyfence.client import Client
    from skyfence.errors import PermissionDeniedError

    server, tokens = live
    env = {**server.env, "SKYFENCE_URL": server.url}
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["terminal-gateway"]},
                "decide", "50.45", "30.52", "--terminal", "UT-1", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rule_id"] == "ua"
    # negative coordinates as people type them; a place no rule covers says so in words
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["terminal-gateway"]},
                "decide", "-33.45", "-70.66", "--terminal", "UT-1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("DENIED: not_licensed (rule -, policy v") and "None" not in r.stdout
    # YAML, as `skyfence policy example` writes it: checked here, sent as JSON
    policy = tmp_path / "p.yaml"
    rules = [*POLICY["rules"], {"id": "sk", "region": "SK", "state": "active"}]
    policy.write_text("rules:\n" + "".join(f"  - {json.dumps(r)}\n" for r in rules))
    typo = tmp_path / "typo.yaml"
    typo.write_text("rules:\n  - {id: sk, region: SK, state: actve}\n")
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["operator"]}, "propose", str(typo),
                "--reason", "typo")  # fmt: skip
    assert (
        r.returncode == 1 and "typo.yaml line 2" in r.stderr and "did you mean 'active'" in r.stderr
    )
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["operator"]}, "propose", str(policy),
                "--reason", "add SK", "--review", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    change = json.loads(r.stdout)["change_id"]
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["viewer"]}, "approve", str(change))
    assert r.returncode == 1 and "approver role" in r.stderr and r.stderr.count("\n") == 1
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["approver"]}, "pending", "--json")
    assert [c["id"] for c in json.loads(r.stdout)] == [change]
    r = _remote({**env, "SKYFENCE_TOKEN": tokens["approver"]}, "approve", str(change), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["version"] == 2, r.stderr
    r = _remote(env, "log", "verify", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    with Client(server.url, tokens["viewer"]) as client:
        assert client.policy()["version"] == 2
        with pytest.raises(PermissionDeniedError, match="operator role"):
            client.propose({"rules": []}, reason="no")


@pytest.mark.postgres
def test_two_server_processes_on_one_database_lose_no_update(live):
    from concurrent.futures import ThreadPoolExecutor

    server, tokens = live
    second = start_server(server.env)
    try:
        headers = {"Authorization": f"Bearer {tokens['operator']}"}

        def propose(n: int) -> int:
            url = (server.url, second.url)[n % 2]
            rules = [*POLICY["rules"], {"id": f"n{n}", "region": "CZ", "state": "active"}]
            with httpx.Client(base_url=url, timeout=60) as c:
                r = c.post("/v1/policy/changes", headers=headers,
                           json={"document": {"rules": rules}, "reason": f"p{n}"})  # fmt: skip
                return r.status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(propose, range(24)))
        assert set(statuses) <= {201, 409}, statuses
        applied = statuses.count(201)
        assert applied >= 1
        with httpx.Client(base_url=second.url, timeout=60) as c:
            version = c.get("/v1/policy", headers=headers).json()["version"]
            assert version == 1 + applied  # every applied proposal is a version: none lost
            size = c.get("/v1/log/checkpoint").json()["tree_size"]
            indices = []
            for start in range(0, size, 1000):
                page = c.get(
                    "/v1/log/entries", params={"start": start, "end": min(size, start + 1000)}
                )
                indices += [e["entry"]["index"] for e in page.json()["entries"]]
        assert indices == list(range(size))  # no gap, no duplicate
    finally:
        stop_server(second)
    _verify(server.env)
