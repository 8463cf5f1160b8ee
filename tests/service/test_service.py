"""The service's contract: one error envelope, decisions equal to the in-process engine,
provenance on every decision, Arrow in and out, the two-person rule under a race, limits."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from tests.service.conftest import POLICY, mint, root

ENVELOPE_KEYS = {"code", "message", "details"}


def _envelope(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == ENVELOPE_KEYS, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.postgres
def test_every_error_has_the_one_envelope(service):
    cases = [
        (service.call("GET", "/v1/nowhere"), 404, "not_found"),
        (service.call("DELETE", "/v1/decisions", "viewer"), 405, "method_not_allowed"),
        (service.call("POST", "/v1/decisions", "viewer", json={"terminal_id": "x"}), 422,
         "invalid_request"),
        (service.call("POST", "/v1/decisions", "viewer", content=b"{not json",
                      headers={"content-type": "application/json"}), 422, "invalid_request"),
        (service.call("POST", "/v1/decisions", None, json={}), 401, "unauthenticated"),
        (service.call("GET", "/v1/tokens", "viewer"), 403, "permission_denied"),
        (service.call("GET", "/v1/terminals/none", "viewer"), 404, "not_found"),
        (service.call("GET", "/v1/policy/versions/99", "viewer"), 404, "not_found"),
        (service.call("GET", "/v1/log/entries?start=5&end=2"), 400, "invalid_input"),
        (service.call("POST", "/v1/decisions/batch", "viewer", content=b"x",
                      headers={"content-type": "text/plain"}), 415, "unsupported_media_type"),
        (service.call("POST", "/v1/decisions/batch", "viewer", content=b"not arrow",
                      headers={"content-type": "application/vnd.apache.arrow.stream"}), 400,
         "invalid_input"),
        (service.call("POST", "/v1/policy/changes", "operator",
                      json={"document": {"rules": [{"id": "x", "region": "Atlantis",
                                                    "state": "active"}]}, "reason": "r"}),
         404, "not_found"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert _envelope(response)["code"] == code
    # a 422 names the field
    bad = service.call("POST", "/v1/decisions", "viewer",
                       json={"terminal_id": "x", "latitude_deg": 91, "longitude_deg": 0})  # fmt: skip
    assert "latitude_deg" in _envelope(bad)["message"]


def test_an_unexpected_error_is_a_500_without_a_trace(service, monkeypatch):
    import skyfence.app.decide as decide_mod

    def boom(*a: Any, **k: Any) -> Any:
        raise RuntimeError("secret internals at /srv/x.py line 3")

    monkeypatch.setattr(decide_mod, "decide", boom)
    r = service.call("POST", "/v1/decisions", "viewer",
                     json={"terminal_id": "x", "latitude_deg": 1, "longitude_deg": 1})  # fmt: skip
    assert r.status_code == 500
    assert _envelope(r)["code"] == "internal_error"
    assert "secret" not in r.text


def test_headers_limits_and_no_cors(tmp_path, store_url):
    from fastapi.testclient import TestClient
    from tests.service.conftest import make_settings

    from skyfence.app import App
    from skyfence.service import ServiceLimits, create_app

    app = App(make_settings(tmp_path, store_url))
    token = mint(app, "v", ["viewer"])
    api = create_app(app=app, limits=ServiceLimits(max_body_bytes=1000, rate_per_s=1, burst=3))
    h = {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"}
    with TestClient(api, raise_server_exceptions=False) as c:
        r = c.get("/healthz", headers=h)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert not any(k.lower().startswith("access-control-") for k in r.headers)
        big = c.post("/v1/decisions/batch", headers=h, content=b"{" + b" " * 2000 + b"}")
        assert big.status_code == 413 and _envelope(big)["code"] == "payload_too_large"
        statuses = [c.get("/v1/terminals", headers=h).status_code for _ in range(6)]
        assert statuses[:3] == [200, 200, 200] and 429 in statuses
        limited = c.get("/v1/terminals", headers=h)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert _envelope(limited)["code"] == "rate_limited"


def test_openapi_is_3_1_with_stable_operation_ids(service):
    doc = service.call("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    ids = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert {"decide", "decide_batch", "propose_change", "approve_change", "reject_change",
            "list_changes", "get_checkpoint", "get_inclusion_proof", "get_consistency_proof",
            "get_public_key", "get_log_entries", "create_token", "revoke_token", "list_terminals",
            "create_terminal", "get_terminal", "put_terminal", "delete_terminal", "get_policy",
            "get_policy_version", "lookup_region", "healthz", "readyz"} <= ids  # fmt: skip
    assert "BatchRequest" in doc["components"]["schemas"]
    assert service.call("GET", "/docs").status_code == 200


def _random_rows(n: int, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    # mostly around the policy's countries (PL, UA, DE), some anywhere, a few registered
    lat = np.where(rng.random(n) < 0.7, rng.uniform(45, 56, n), rng.uniform(-90, 90, n))
    lon = np.where(rng.random(n) < 0.7, rng.uniform(5, 40, n), rng.uniform(-180, 180, n))
    ids = np.where(
        rng.random(n) < 0.3, "UT-1", np.char.add("T", rng.integers(0, 50, n).astype(str))
    )
    speed = np.where(rng.random(n) < 0.5, np.nan, rng.uniform(0, 1200, n))
    return {"terminal_id": ids.astype(object), "lat": lat.round(6), "lon": lon.round(6),
            "speed_kmh": speed.round(3)}  # fmt: skip


def test_batch_over_the_wire_equals_decide_batch_in_process(service):
    import pyarrow as pa

    from skyfence.app.decide import decide_batch
    from skyfence.app.terminals import add_record
    from skyfence.timeutil import parse_time

    add_record(service.app, root(), {"id": "UT-1", "country": "UA", "plan": "fixed"})
    n = 100_000
    cols = _random_rows(n)
    at = "2030-01-01T00:00:00Z"
    truth = decide_batch(service.app, root(), {**cols, "time": parse_time(at)}, at=at).decisions
    rows = [
        {"terminal_id": t, "latitude_deg": la, "longitude_deg": lo,
         **({} if np.isnan(s) else {"speed_kmh": s})}
        for t, la, lo, s in zip(cols["terminal_id"].tolist(), cols["lat"].tolist(),
                                cols["lon"].tolist(), cols["speed_kmh"].tolist(), strict=True)
    ]  # fmt: skip
    r = service.call("POST", "/v1/decisions/batch", "terminal-gateway",
                     json={"rows": rows, "time": at})  # fmt: skip
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["count"] == n and body["policy_version"] == 1
    got = body["results"]
    assert [x["allowed"] for x in got] == truth.allowed.tolist()
    assert [x["state"] for x in got] == truth.state_names().tolist()
    assert [x["rule_id"] for x in got] == truth.rule_names().tolist()
    assert 0 < sum(truth.allowed) < n  # both answers occur
    # the same rows as an Arrow stream, in and out
    table = pa.table({"terminal_id": pa.array(cols["terminal_id"].tolist(), pa.string()),
                      "latitude_deg": cols["lat"], "longitude_deg": cols["lon"],
                      "speed_kmh": cols["speed_kmh"],
                      "time": pa.array(np.full(n, np.datetime64(at[:-1], "ns")))})  # fmt: skip
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    arrow = "application/vnd.apache.arrow.stream"
    r = service.call("POST", "/v1/decisions/batch", "terminal-gateway",
                     content=sink.getvalue().to_pybytes(), headers={"content-type": arrow})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"] == arrow
    out = pa.ipc.open_stream(r.content).read_all()
    assert out.column("allowed").to_pylist() == truth.allowed.tolist()
    assert out.column("state").to_pylist() == truth.state_names().tolist()
    assert int(out.schema.metadata[b"policy_version"]) == 1


@pytest.mark.postgres
def test_a_decision_carries_its_policy_version_log_entry_and_checkpoint(service):
    from skyfence.app.log import inclusion_proof

    r = service.call("POST", "/v1/decisions", "terminal-gateway",
                     json={"terminal_id": "UT-9", "latitude_deg": 50.45, "longitude_deg": 30.52})  # fmt: skip
    body = r.json()
    assert r.status_code == 200
    assert (body["allowed"], body["state"], body["rule_id"]) == (False, "suspended", "ua")
    assert body["policy_version"] == 1
    entry = service.call("GET", f"/v1/log/entries?start={body['log_index']}"
                                f"&end={body['log_index'] + 1}").json()["entries"][0]  # fmt: skip
    assert entry["entry"]["kind"] == "policy.apply"
    assert entry["entry"]["data"]["version"] == 1
    cp = body["checkpoint"]
    proof = inclusion_proof(service.app, root(), body["log_index"], cp["tree_size"])
    assert proof.verify() and proof.root_hash == cp["root_hash"]
    assert proof.leaf_hash == entry["leaf_hash"]


@pytest.mark.postgres
def test_two_approvers_racing_on_one_change_count_once(service):
    from skyfence.app.changes import propose

    doc = {"rules": [*POLICY["rules"], {"id": "fr", "region": "FR", "state": "active"}]}
    change = propose(service.app, root(), doc, reason="r", request_review=True).change_id
    results: list[Any] = []
    barrier = threading.Barrier(2)

    def go(who: str) -> None:
        barrier.wait()
        results.append(service.call("POST", f"/v1/policy/changes/{change}/approve", who))

    threads = [threading.Thread(target=go, args=(w,)) for w in ("approver", "approver2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 409], [r.text for r in results]
    versions = service.call("GET", "/v1/policy", "viewer").json()["version"]
    assert versions == 2
    kinds = [e["entry"]["kind"] for e in
             service.call("GET", "/v1/log/entries?start=0").json()["entries"]]  # fmt: skip
    assert kinds.count("policy.approve") == 1


@pytest.mark.postgres
def test_no_one_approves_their_own_change_and_the_token_is_the_identity(service):
    r = service.call("POST", "/v1/policy/changes", "admin",
                     json={"document": {"rules": [*POLICY["rules"], {"id": "it", "region": "IT",
                           "state": "active"}]}, "reason": "r", "request_review": True})  # fmt: skip
    assert r.status_code == 202 and r.json()["status"] == "pending"
    change = r.json()["change_id"]
    own = service.call("POST", f"/v1/policy/changes/{change}/approve", "admin")
    assert own.status_code == 403
    ok = service.call("POST", f"/v1/policy/changes/{change}/approve", "approver")
    assert ok.status_code == 200 and ok.json()["status"] == "applied"
    entries = service.call("GET", "/v1/log/entries?start=0").json()["entries"]
    approve = [e["entry"] for e in entries if e["entry"]["kind"] == "policy.approve"][-1]
    assert approve["author"] == "approver-person"
    assert approve["data"].get("requested_by") in ("admin-person", None)


def test_a_pending_change_shows_its_impact_before_approval(service):
    from skyfence.app.terminals import add_record

    add_record(service.app, root(), {"id": "UT-CZ", "country": "CZ", "plan": "fixed"})
    add_record(service.app, root(), {"id": "UT-PL", "country": "PL", "plan": "fixed"})
    doc = {"rules": [{"id": "pl", "region": "PL", "state": "suspended"},
                     {"id": "ua", "region": "UA", "state": "suspended"},
                     {"id": "de", "region": "DE", "state": "active"},
                     {"id": "cz", "region": "CZ", "state": "active"}]}  # fmt: skip
    r = service.call("POST", "/v1/policy/changes", "operator",
                     json={"document": doc, "reason": "swap", "request_review": True})  # fmt: skip
    change = r.json()["change_id"]
    got = service.call("GET", f"/v1/policy/changes/{change}", "approver").json()
    effect = got["impact"]["effect"]
    assert effect["terminals_gaining"] == ["UT-CZ"] and effect["terminals_losing"] == ["UT-PL"]
    by_region = {r["region"]: r for r in effect["regions"]}
    # the cells whose centres lie in the country: their area is close to the country's
    # published area (Poland 312,696 km², Czechia 78,871 km²), at resolution 4 (~1,770 km²)
    pl = by_region["PL"]["transition_area_km2"]["active->suspended"]
    cz = by_region["CZ"]["transition_area_km2"]["not_licensed->active"]
    assert abs(pl - 312_696) / 312_696 < 0.05, pl
    assert abs(cz - 78_871) / 78_871 < 0.08, cz


def test_the_served_app_keeps_its_startup_objects_out_of_the_collector(tmp_path, monkeypatch):
    """``skyfence serve``'s factory freezes what startup built (``gc.freeze``), so the
    collector's full passes do not walk the regions and the compiled policy under load;
    an app made with ``create_app`` (tests, embedding) leaves the collector alone."""
    import gc

    from fastapi.testclient import TestClient

    from skyfence.service import create_app
    from skyfence.web.app import app_factory

    monkeypatch.setenv("SKYFENCE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SKYFENCE_DATABASE_URL", raising=False)
    monkeypatch.delenv("SKYFENCE_SERVICE_LIMITS", raising=False)
    gc.unfreeze()
    try:
        with TestClient(create_app()) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() == 0
        with TestClient(app_factory()) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
