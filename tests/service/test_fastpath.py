"""Single decisions answered by the fast path are exactly the route's answers: status, body
and headers, for valid requests and for every way a request can be refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.service.conftest import POLICY, ROLES, make_settings, mint, root

GOOD = {"terminal_id": "UT-1", "latitude_deg": 52.23, "longitude_deg": 21.01}


@pytest.fixture()
def pair(store_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any, dict[str, str]]]:
    """Two services on one store, with and without the fast path, and a token per role."""
    from fastapi.testclient import TestClient

    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.app.terminals import add_record
    from skyfence.service import ServiceLimits, create_app

    app = App(make_settings(tmp_path, store_url))
    propose(app, root(), POLICY, reason="start")
    add_record(app, root(), {"id": "UT-1", "country": "UA", "plan": "fixed"})
    tokens = {role: mint(app, f"{role}-person", [role]) for role in ROLES}
    tokens["expired"] = mint(app, "old", ["terminal-gateway"], expires_after_s=1)
    limits = ServiceLimits(rate_per_s=0)
    fast = create_app(app=app, limits=limits, fast_path=True)
    slow = create_app(app=app, limits=limits, fast_path=False)
    with (
        TestClient(fast, raise_server_exceptions=False) as f,
        TestClient(slow, raise_server_exceptions=False) as s,
    ):
        yield f, s, tokens


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    if a.status_code == 200 and a.json().get("time") != b.json().get("time"):
        # a request without a time is decided at "now": the two answers were made
        # moments apart; everything else is the same, byte for byte
        ta, tb = a.json()["time"], b.json()["time"]
        assert abs(np.datetime64(ta[:-1]) - np.datetime64(tb[:-1])) < np.timedelta64(5, "s")
        assert a.content.replace(ta.encode(), tb.encode()) == b.content
    else:
        assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k != "content-length"} == {
        k: v for k, v in b.headers.items() if k != "content-length"
    }


def _cases(tokens: dict[str, str]) -> list[tuple[dict[str, str], Any]]:
    gw = {"Authorization": f"Bearer {tokens['terminal-gateway']}"}
    js = {"content-type": "application/json"}
    return [
        ({**gw, **js}, GOOD),
        ({**gw, **js}, {**GOOD, "latitude_deg": 48.5, "longitude_deg": 31.0}),  # UA
        ({**gw, **js}, {**GOOD, "terminal_id": "nobody", "latitude_deg": 0.0}),  # at sea
        ({**gw, **js}, {**GOOD, "speed_kmh": 80, "altitude_m": 12.5}),
        ({**gw, **js}, {**GOOD, "time": "2030-01-01T00:00:00Z"}),
        ({**gw, **js}, {**GOOD, "time": "1990-01-01T00:00:00Z"}),  # before any policy
        ({**gw, **js}, {**GOOD, "time": "not a time"}),
        ({**gw, **js}, {**GOOD, "latitude_deg": 91}),
        ({**gw, **js}, {**GOOD, "latitude_deg": True}),
        ({**gw, **js}, {**GOOD, "extra": 1}),
        ({**gw, **js}, {"terminal_id": "x"}),
        ({**gw, **js}, b"{not json"),
        ({**gw, **js}, b""),
        ({**gw, "content-type": "text/plain"}, GOOD),
        (gw, GOOD),
        (js, GOOD),
        ({"Authorization": "Basic abc", **js}, GOOD),
        ({"Authorization": "Bearer", **js}, GOOD),
        ({"Authorization": "Bearer sft_unknown", **js}, GOOD),
        ({"Authorization": f"bearer {tokens['viewer']}", **js}, GOOD),
        ({"Authorization": f"Bearer {tokens['operator']}", **js}, GOOD),
        ({"Authorization": f"Bearer {tokens['admin']}", **js}, GOOD),
        ({"Authorization": f"Bearer {tokens['expired']}", **js}, GOOD),
    ]


def _send(client: Any, headers: dict[str, str], body: Any) -> Any:
    import json

    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/decisions", content=content, headers=headers)


def test_the_fast_path_answers_as_the_route(pair: tuple[Any, Any, dict[str, str]]) -> None:
    import time

    fast, slow, tokens = pair
    time.sleep(1.1)  # the short-lived token has expired
    statuses = []
    for headers, body in _cases(tokens):
        a, b = _send(fast, headers, body), _send(slow, headers, body)
        _same(a, b)
        statuses.append(a.status_code)
    assert statuses.count(200) >= 6 and {401, 403, 415, 422} & set(statuses)
    assert 401 in statuses and 422 in statuses
    # other routes and methods are untouched
    _same(fast.get("/v1/decisions"), slow.get("/v1/decisions"))
    _same(fast.get("/healthz"), slow.get("/healthz"))


def test_the_fast_path_keeps_the_rate_limit(store_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from skyfence.app import App
    from skyfence.app.changes import propose
    from skyfence.service import ServiceLimits, create_app

    app = App(make_settings(tmp_path, store_url))
    propose(app, root(), POLICY, reason="start")
    token = mint(app, "gw", ["terminal-gateway"])
    early = {**GOOD, "time": "1990-01-01T00:00:00Z"}  # valid, but no policy was in force
    limits = ServiceLimits(rate_per_s=0.001, burst=3)
    runs = []
    for fast_path in (True, False):
        api = create_app(app=app, limits=limits, fast_path=fast_path)
        with TestClient(api, raise_server_exceptions=False) as client:
            seq = []
            for body in (GOOD, early, GOOD, GOOD, early):
                r = client.post("/v1/decisions", json=body,
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                seq.append((r.status_code, r.headers.get("retry-after")))
            runs.append(seq)
    assert runs[0] == runs[1]  # a refused decision is charged once, not twice
    statuses = [s for s, _ in runs[0]]
    assert statuses[0] == statuses[2] == 200 and statuses[1] not in (200, 429)
    assert statuses[3:] == [429, 429]
