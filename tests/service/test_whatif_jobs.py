"""What-ifs as jobs: 202 and an id at once, the work off the request path, the report files;
a job left unfinished by a stopped process is marked failed when the next one starts."""

from __future__ import annotations

import time

from tests.service.conftest import root


def test_a_whatif_runs_as_a_job_and_serves_its_files(service):
    body = {"region": "LU", "action": "deactivate", "duration_s": 120, "step_s": 60,
            "resolution": 3}  # fmt: skip
    denied = service.call("POST", "/v1/whatif", "viewer", json=body)
    assert denied.status_code == 403
    bad = service.call("POST", "/v1/whatif", "operator", json={**body, "region": "Atlantis"})
    assert bad.status_code == 404 and "Atlantis" in bad.json()["error"]["message"]
    r = service.call("POST", "/v1/whatif", "operator", json=body)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.headers["location"] == f"/v1/whatif/{job_id}"
    deadline = time.monotonic() + 240
    while True:
        job = service.call("GET", f"/v1/whatif/{job_id}", "viewer").json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert job["status"] == "done", job
    assert job["result"]["files"]
    name = next(f for f in job["result"]["files"] if f.endswith(".json"))
    f = service.call("GET", f"/v1/whatif/{job_id}/files/{name}", "viewer")
    assert f.status_code == 200 and f.content.strip().startswith(b"{")
    missing = service.call("GET", f"/v1/whatif/{job_id}/files/nope.txt", "viewer")
    assert missing.status_code == 404
    assert service.call("GET", "/v1/whatif/0123456789abcdef", "viewer").status_code == 404


def test_an_unfinished_job_of_a_dead_process_is_marked_failed(service):
    import socket

    from sqlalchemy import text

    from skyfence.app._store import open_store
    from skyfence.app.jobs import fail_unfinished, submit_whatif

    job = submit_whatif(service.app, root(), "LU", duration_s=60, step_s=60, resolution=3)
    with open_store(service.app) as store, store._engine.begin() as conn:
        conn.execute(
            text("UPDATE jobs SET status = 'running', owner = :o WHERE job_id = :i"),
            {"o": f"{socket.gethostname()}:999999999", "i": job.job_id},
        )
    assert fail_unfinished(service.app) == [job.job_id]
    got = service.call("GET", f"/v1/whatif/{job.job_id}", "viewer").json()
    assert got["status"] == "failed" and "stopped before it finished" in got["error"]
