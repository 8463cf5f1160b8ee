"""The service submits each new checkpoint to its witnesses by itself (``SKYFENCE_WITNESSES``),
off the request path: a live server with one real witness (``witness serve`` code on
127.0.0.1) and one that never answers. The change is recorded at once, the live witness's
cosignature is published on the checkpoint routes and meets a quorum of 1 in the standalone
verifier, and the dead witness's failure is visible."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import pytest
from tests.service.conftest import (
    CACHE,
    POLICY,
    ROLES,
    make_settings,
    mint,
    root,
    start_server,
    stop_server,
)

from skyfence.transparency.checkpoint import Cosigner

W1 = Cosigner.from_seed("witness.example/w1", bytes([2]) * 32)
DEAD = Cosigner.from_seed("witness.example/dead", bytes([4]) * 32)


def _wait_for(check, what: str, seconds: float = 40.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.postgres
def test_the_service_gets_its_checkpoints_cosigned_and_a_dead_witness_blocks_nothing(
    store_url, tmp_path, running_witness
):
    import os

    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.app.log import vkey as log_vkey

    app = App(make_settings(tmp_path, store_url))
    propose(app, root(), POLICY, reason="start")
    tokens = {role: mint(app, f"{role}-person", [role]) for role in ROLES}
    vkey = log_vkey(app, root())
    w1_url = running_witness(vkey, W1)
    hole = socket.socket()  # accepts connections (backlog), never answers
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    dead_url = f"http://127.0.0.1:{hole.getsockname()[1]}/"
    witnesses = [f"{DEAD.verifier().vkey()} {dead_url}", f"{W1.verifier().vkey()} {w1_url}"]
    env = {
        **os.environ,
        "SKYFENCE_DATA_DIR": str(tmp_path / "data"),
        "SKYFENCE_DATABASE_URL": store_url,
        "SKYFENCE_CACHE_DIR": str(CACHE),
        "SKYFENCE_WITNESSES": json.dumps(witnesses),
    }
    server = start_server(env)
    try:
        headers = {"Authorization": f"Bearer {tokens['operator']}"}
        with httpx.Client(base_url=server.url, timeout=30) as c:
            rules = [*POLICY["rules"], {"id": "cz", "region": "CZ", "state": "active"}]
            started = time.monotonic()
            r = c.post("/v1/policy/changes", headers=headers,
                       json={"document": {"rules": rules}, "reason": "add CZ"})  # fmt: skip
            took = time.monotonic() - started
            assert r.status_code == 201, r.text
            # the dead witness (5 s timeout) is not on the request path
            assert took < 4.0, took
            size = c.get("/v1/log/checkpoint").json()["tree_size"]

            def cosigned():
                cp = c.get("/v1/log/checkpoint").json()
                note = cp["cosigned_note"] or ""
                return cp["tree_size"] == size and "— witness.example/w1 " in note and cp

            cp = _wait_for(cosigned, "the live witness's cosignature on the checkpoint route")
            assert cp["cosigned_note"].startswith(cp["note"].rstrip("\n"))
            tiles_note = c.get("/v1/log/tlog/checkpoint").text
            assert "— witness.example/w1 " in tiles_note
            assert "— witness.example/dead " not in tiles_note

            def dead_failed():
                ws = {w["name"]: w for w in c.get("/v1/log/witnesses").json()["witnesses"]}
                done = ws["witness.example/w1"]["cosigned_size"] == size
                return ws if done and ws["witness.example/dead"]["error"] else None

            ws = _wait_for(dead_failed, "the dead witness's failure to be visible")
            assert ws["witness.example/w1"]["cosigned_size"] == size
            assert ws["witness.example/w1"]["error"] is None
            assert ws["witness.example/dead"]["cosigned_size"] is None
            assert "timed out" in ws["witness.example/dead"]["error"]

        # anyone checks the quorum from the service's tiles, with the standalone verifier
        base = [sys.executable, "-m", "skyfence.transparency", "tiles",
                server.url + "/v1/log/tlog/", "--vkey", vkey, "--quorum", "1"]  # fmt: skip
        ok = subprocess.run([*base, "--witness", W1.verifier().vkey()],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        short = subprocess.run([*base, "--witness", DEAD.verifier().vkey()],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert short.returncode == 1 and "quorum" in short.stderr, short.stderr
        # the failure is in the server's log too
        server.proc.log.seek(0)
        err = server.proc.log.read().decode(errors="replace")
        assert "witness witness.example/dead did not cosign checkpoint" in err, err[-2000:]
    finally:
        stop_server(server)
        hole.close()
