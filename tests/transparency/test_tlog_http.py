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
    api.include_router(tiles_router(lambda: app, lambda: Principal.local("reader")), prefix="/log")
    client = TestClient(api)

    def read(path: str) -> bytes:
        response = client.get(f"/log/{path}")
        assert response.status_code == 200, (path, response.text)
        return response.content

    report = verify_tiles(read, parse_vkey(vkey))
    assert report.entries == 302 and report.bundles == 2
    assert client.get("/log/checkpoint").headers["cache-control"] == "no-store"
    assert "immutable" in client.get("/log/tile/0/000").headers["cache-control"]
    assert client.get("/log/tile/0/001").status_code == 404  # only the partial one exists
    assert client.get("/log/tile/0/001.p/46").status_code == 200
    assert client.get("/log/tile/../../etc/passwd").status_code == 404
