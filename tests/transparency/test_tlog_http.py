"""The tiles router the service mounts: the same bytes as `log tiles`, verified over HTTP by
the standalone verifier; 404 for paths outside the tree; caching headers per the spec."""

from __future__ import annotations

import warnings

import pytest

fastapi = pytest.importorskip("fastapi", reason="the service extra (fastapi) is not installed")
with warnings.catch_warnings():
    # starlette's TestClient warns that it will move from httpx to httpx2; not this code's
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from skyfence.app import App  # noqa: E402
from skyfence.app.identity import Principal  # noqa: E402
from skyfence.settings import load_settings  # noqa: E402
from skyfence.store import Store  # noqa: E402
from skyfence.tlog_http import tiles_router  # noqa: E402
from skyfence.transparency.note import parse_vkey  # noqa: E402
from skyfence.transparency.tiles import verify_tiles  # noqa: E402


def test_router_serves_a_verifiable_tiled_log(isolated_env):
    settings = load_settings()
    with Store.open(settings=settings, require_distinct_os_users=False) as store:
        # 300 notes, the sandbox setting and the first key: 302 entries
        store.log.append_many([("note", {"i": i}, "alice", "fill") for i in range(300)])
        vkey = store.log.vkey()
    app = App(settings=settings)
    api = fastapi.FastAPI()
    api.include_router(tiles_router(lambda: Principal.local("reader"), get_app=lambda: app))
    client = TestClient(api)
    base = "/v1/log/tlog"

    def read(path: str) -> bytes:
        response = client.get(f"{base}/{path}")
        assert response.status_code == 200, (path, response.text)
        return response.content

    report = verify_tiles(read, parse_vkey(vkey))
    assert report.entries == 302 and report.bundles == 2
    assert client.get(f"{base}/checkpoint").headers["cache-control"] == "no-store"
    assert "immutable" in client.get(f"{base}/tile/0/000").headers["cache-control"]
    assert client.get(f"{base}/tile/0/001").status_code == 404  # only the partial one exists
    assert client.get(f"{base}/tile/0/001.p/46").status_code == 200
    assert client.get(f"{base}/tile/../../etc/passwd").status_code == 404


def test_mounted_in_the_service_for_anonymous_readers(isolated_env):
    """What ``skyfence serve`` runs (the service with the map) serves the tiles, no token."""
    pytest.importorskip("skyfence.service.app")
    from skyfence.web.app import create_app

    settings = load_settings()
    with Store.open(settings=settings, require_distinct_os_users=False) as store:
        store.log.append("note", {"text": "hello"}, author="alice", reason="x")
        vkey = store.log.vkey()
    api = create_app(settings)
    paths = api.openapi()["paths"]  # the document still builds with the tiles in it
    assert "/v1/log/tlog/checkpoint" in paths and "/v1/log/tlog/tile/{path}" in paths
    with TestClient(api) as client:

        def read(path: str) -> bytes:
            response = client.get(f"/v1/log/tlog/{path}")
            assert response.status_code == 200, (path, response.text)
            return response.content

        assert verify_tiles(read, parse_vkey(vkey)).entries == 3
        missing = client.get("/v1/log/tlog/tile/5/000")
        assert missing.status_code == 404
