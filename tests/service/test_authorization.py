"""Every route × every role, no token, an expired and a revoked token → the expected status.

Roles imply others (operator and approver can also read; admin can do everything), as
:mod:`skyfence.app.identity` says; the log is public.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from tests.service.conftest import POLICY, mint, root

READERS = {"viewer", "operator", "approver", "admin"}
DECIDERS = READERS | {"terminal-gateway"}
EVERYONE = DECIDERS | {None, "expired", "revoked"}
IDENTITIES = ["viewer", "terminal-gateway", "operator", "approver", "admin", None, "expired",
              "revoked"]  # fmt: skip
TERMINAL = {"id": "UT-7", "country": "PL", "plan": "fixed", "whitelists": []}


def _terminal(svc: Any) -> None:
    from skyfence.app.terminals import add
    from skyfence.policy import Terminal

    add(svc.app, root(), Terminal.from_record(TERMINAL))


def _pending(svc: Any) -> int:
    from skyfence.app.changes import propose

    result = propose(
        svc.app, root(), _new_policy()["document"], reason="review me", request_review=True
    )
    assert result.status == "pending"
    return result.change_id


def _token_id(svc: Any) -> str:
    from skyfence.app.tokens import create

    return create(svc.app, root(), "someone", ["viewer"]).record.token_id


_COUNT = iter(range(1_000_000))


def _new_policy() -> dict[str, Any]:
    n = next(_COUNT)
    extra = {"id": f"cz{n}", "region": "CZ", "state": "active" if n % 2 else "suspended"}
    return {"document": {"rules": [*POLICY["rules"], extra]}, "reason": "a new version"}


DECIDE = {"terminal_id": "UT-1", "latitude_deg": 52.2, "longitude_deg": 21.0}
# (method, path, json body or None, setup returning path parameters, allowed roles, success)
ROUTES: list[tuple[str, str, Any, Any, set[Any], int]] = [
    ("POST", "/v1/decisions", DECIDE, None, DECIDERS, 200),
    ("POST", "/v1/decisions/batch", {"rows": [DECIDE]}, None, DECIDERS, 200),
    ("GET", "/v1/terminals", None, None, READERS, 200),
    ("POST", "/v1/terminals", TERMINAL, None, {"operator", "admin"}, 201),
    ("GET", "/v1/terminals/UT-7", None, _terminal, READERS, 200),
    ("PUT", "/v1/terminals/UT-7", TERMINAL, None, {"operator", "admin"}, 200),
    ("DELETE", "/v1/terminals/UT-7", None, _terminal, {"operator", "admin"}, 200),
    ("GET", "/v1/policy", None, None, DECIDERS, 200),
    ("GET", "/v1/policy/versions/1", None, None, READERS, 200),
    ("POST", "/v1/policy/changes", _new_policy, None,
     {"operator", "admin"}, 201),
    ("GET", "/v1/policy/changes?state=pending", None, None, READERS, 200),
    ("GET", "/v1/policy/changes/{id}", None, _pending, READERS, 200),
    ("POST", "/v1/policy/changes/{id}/approve", {"reason": "ok"}, _pending,
     {"approver", "admin"}, 200),
    ("POST", "/v1/policy/changes/{id}/reject", {"reason": "no"}, _pending,
     {"approver", "admin"}, 200),
    ("GET", "/v1/regions/lookup?latitude_deg=50.45&longitude_deg=30.52", None, None, DECIDERS,
     200),
    ("GET", "/v1/log/checkpoint", None, None, EVERYONE, 200),
    ("GET", "/v1/log/entries?start=0&end=3", None, None, EVERYONE, 200),
    ("GET", "/v1/log/proof/inclusion?index=0&tree_size=2", None, None, EVERYONE, 200),
    ("GET", "/v1/log/proof/consistency?first=1&second=2", None, None, EVERYONE, 200),
    ("GET", "/v1/log/public-key", None, None, EVERYONE, 200),
    ("GET", "/v1/tokens", None, None, {"admin"}, 200),
    ("POST", "/v1/tokens", {"principal": "newbie", "roles": ["viewer"]}, None, {"admin"}, 201),
    ("DELETE", "/v1/tokens/{id}", None, _token_id, {"admin"}, 200),
    ("GET", "/healthz", None, None, EVERYONE, 200),
    ("GET", "/readyz", None, None, EVERYONE, 200),
]  # fmt: skip


@pytest.fixture()
def svc(service: Any) -> Any:
    from skyfence.app.tokens import revoke

    service.tokens["expired"] = mint(service.app, "short-lived", ["admin"], expires_after_s=0.5)
    revoked = mint(service.app, "former-admin", ["admin"])
    from skyfence.app.tokens import authenticate

    revoke(service.app, root(), authenticate_id(service.app, revoked))
    service.tokens["revoked"] = revoked
    del authenticate
    time.sleep(0.6)
    return service


def authenticate_id(app: Any, token: str) -> str:
    return token.split("_")[1]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "method,path,body,setup,allowed,success", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES]
)
def test_every_role_gets_the_expected_status(svc, method, path, body, setup, allowed, success):
    for who in IDENTITIES:
        url = path
        if setup is not None:
            made = setup(svc)
            if made is not None:
                url = path.replace("{id}", str(made))
        payload = body() if callable(body) else body
        kwargs = {"json": payload} if payload is not None else {}
        response = svc.call(method, url, who, **kwargs)
        if who in allowed:
            expected = success
        elif who in (None, "expired", "revoked"):
            expected = 401
        else:
            expected = 403
        assert response.status_code == expected, (who, response.text)
        if expected >= 400:
            error = response.json()["error"]
            assert error["code"] == {401: "unauthenticated", 403: "permission_denied"}[expected]
            if who in ("expired", "revoked"):
                assert who in error["message"]
