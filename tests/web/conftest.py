"""A live map server for the web tests: a store with a policy and a signed checkpoint, the
map router in a tiny FastAPI app (tokens -> principals, one error envelope, as the service
does it), served by uvicorn on 127.0.0.1 in a thread.

The FastAPI app here stands in for the service only where the map needs one (its token
check and error envelope); every route it serves is the map router's own.
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

from fastapi import Request  # noqa: E402  (after the skip: FastAPI reads this annotation)

POLICY = {
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
    ]
}
VIEWER_TOKEN = "viewer-token-for-tests"
KINMEN = (24.44, 118.35)


@dataclass
class MapServer:
    url: str
    app: Any
    reports: Path
    requests: list[str]


def make_api(app: Any, tokens: dict[str, Any]) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from skyfence.errors import PermissionDeniedError, SkyfenceError
    from skyfence.web import router

    api = FastAPI()

    def get_app() -> Any:
        return app

    def get_principal(request: Request) -> Any:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        if token not in tokens:
            raise PermissionDeniedError("a valid Bearer token is needed")
        return tokens[token]

    @api.exception_handler(SkyfenceError)
    def envelope(request: Request, exc: SkyfenceError) -> JSONResponse:
        status = (
            401
            if isinstance(exc, PermissionDeniedError) and "token" in str(exc)
            else exc.http_status
        )
        return JSONResponse(
            {"error": {"code": exc.code, "message": str(exc), "details": {}}}, status_code=status
        )

    api.include_router(router(get_app, get_principal))
    return api


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(api: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    config = uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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


@pytest.fixture(scope="session")
def map_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.app.identity import Principal
    from skyfence.app.log import checkpoint
    from skyfence.settings import load_settings

    base = tmp_path_factory.mktemp("map")
    reports = base / "reports"
    app = App(load_settings(data_dir=base / "data", reports_dir=reports))
    alice = Principal.local("alice", os_user="alice")
    propose(app, alice, POLICY, reason="the map's test policy")
    checkpoint(app, alice)
    write_fixtures(reports)
    return app


@pytest.fixture(scope="session")
def map_server(map_app: Any) -> Iterator[MapServer]:
    from skyfence.app.identity import Principal

    tokens = {VIEWER_TOKEN: Principal.from_token("viewer", ["viewer"])}
    for url in serve(make_api(map_app, tokens)):
        yield MapServer(url, map_app, Path(map_app.settings.reports_dir), [])
