"""A live service with the map for the web tests: a store with a policy (Taiwan sensitive)
and a signed checkpoint, API tokens for a viewer, an operator and an approver, and the
service built by ``skyfence.web.app.create_app`` (what ``skyfence serve`` runs), served by
uvicorn on 127.0.0.1 in a thread.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the map router needs the service extra (fastapi)")
pytest.importorskip("uvicorn", reason="the map tests serve with uvicorn (service extra)")

POLICY = {
    "sensitive_regions": ["TW"],
    "rules": [
        {"id": "tw-waitlist", "region": "TW", "state": "waitlist"},
        {"id": "jp-active", "region": "JP", "state": "active"},
        {"id": "kp-denied", "region": "KP", "state": "denied"},
        {
            "id": "kr-soon",
            "region": "KR",
            "state": "coming_soon",
            "effective_from": "2030-01-01T00:00:00Z",
        },
    ],
}
KINMEN = (24.44, 118.35)


@dataclass
class MapServer:
    url: str
    app: Any
    reports: Path
    tokens: dict[str, str]  # role -> secret


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(api: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def write_fixtures(reports: Path) -> None:
    """A small what-if report and a findings file in the reports directory (the shapes
    ``skyfence whatif`` and ``skyfence detect run --geojson`` write)."""
    import h3

    run = reports / "whatif-activate-TW-2026-02-22T12-00-00Z-run-test"
    run.mkdir(parents=True)
    cells = [h3.latlng_to_cell(23.7 + 0.1 * i, 120.9, 5) for i in range(4)]
    rows = [
        {"cell": c, "served_fraction": 0.0, "served_fraction_after": f, "rtt_p50_ms": 30.0 + i}
        for i, (c, f) in enumerate(zip(cells, [1.0, 0.7, 0.2, 0.0], strict=True))
    ]
    report = {
        "action": "activate", "expression": "TW", "window": {"steps": 4},
        "before": {}, "after": {}, "spillover": {"cells_reached": 3, "area_km2": 800.0},
        "lands_abroad_share": 0.0, "cells": rows,
    }  # fmt: skip
    (run / "report.json").write_text(json.dumps(report))
    findings = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [121.5, 25.0]},
                "properties": {"rank": 1, "kind": "speed", "score": 0.9, "terminal_ids": "T9"},
            }
        ],
    }
    (reports / "findings-test.geojson").write_text(json.dumps(findings))


def build_app(base: Path, cache_dir: Path) -> Any:
    """An App on a fresh store under ``base`` with the test policy in force (version 1), a
    signed checkpoint, tokens, a what-if report and a findings file."""
    from skyfence.app import App
    from skyfence.app.changes import approve, propose
    from skyfence.app.identity import Principal
    from skyfence.app.log import checkpoint
    from skyfence.app.tokens import create
    from skyfence.settings import load_settings

    reports = base / "reports"
    app = App(load_settings(data_dir=base / "data", reports_dir=reports, cache_dir=cache_dir))
    admin = Principal.local("admin", os_user="admin")
    first = propose(app, admin, POLICY, reason="the map's test policy")
    if first.status == "pending":  # Taiwan is sensitive: a second person approves
        approve(app, Principal.local("carol", os_user="carol"), first.change_id)
    checkpoint(app, admin)
    app.test_tokens = {
        role: create(app, admin, name, [role]).token
        for role, name in (
            ("viewer", "vera"),
            ("operator", "olga"),
            ("approver", "bob"),
            ("terminal-gateway", "gw"),
        )
    }
    write_fixtures(reports)
    return app


def _serve_app(app: Any) -> Iterator[MapServer]:
    from skyfence.service.app import ServiceLimits
    from skyfence.web.app import create_app

    api = create_app(app=app, limits=ServiceLimits(rate_per_s=0))
    for url in serve(api):
        yield MapServer(url, app, Path(app.settings.reports_dir), app.test_tokens)


@pytest.fixture(scope="session")
def map_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One worldview cache for every server of the session (built once)."""
    return tmp_path_factory.mktemp("map-cache")


@pytest.fixture(scope="session")
def map_server(tmp_path_factory: pytest.TempPathFactory, map_cache: Path) -> Iterator[MapServer]:
    """A server whose state the tests only read (policy version 1 stays in force)."""
    yield from _serve_app(build_app(tmp_path_factory.mktemp("map"), map_cache))


@pytest.fixture()
def writable_map_server(tmp_path: Path, map_cache: Path) -> Iterator[MapServer]:
    """A server of its own, for a test that changes the policy."""
    yield from _serve_app(build_app(tmp_path, map_cache))


def run_whatif_job(server: MapServer, body: dict[str, Any], timeout_s: float = 300) -> Any:
    """Submit a what-if through ``POST /v1/whatif`` (operator) and follow it to its end."""
    import httpx

    headers = {"Authorization": f"Bearer {server.tokens['operator']}"}
    r = httpx.post(server.url + "/v1/whatif", json=body, headers=headers, timeout=60)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + timeout_s
    while True:
        job = httpx.get(f"{server.url}/v1/whatif/{job_id}", headers=headers, timeout=60).json()
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


#: A small real what-if: Luxembourg switched on, 10 minutes, resolution 5 (its beams light
#: Germany, Belgium and France across the border).
LUXEMBOURG = {
    "region": "LU",
    "action": "activate",
    "duration_s": 600,
    "step_s": 60,
    "resolution": 5,
}


@pytest.fixture(scope="session")
def luxembourg_job(map_server: MapServer) -> Any:
    """A finished what-if job on the read-only server (a job changes no policy)."""
    job = run_whatif_job(map_server, LUXEMBOURG)
    assert job["status"] == "done", job
    return job
