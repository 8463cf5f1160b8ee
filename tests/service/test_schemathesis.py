"""schemathesis against the live OpenAPI document: for every operation, generated requests
(valid and invalid) never get a 5xx, and every response matches its documented schema and
status codes. Bounded: a few examples per operation, so it runs in about a minute."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from tests.service.conftest import (  # noqa: E402
    CACHE,
    POLICY,
    make_settings,
    mint,
    root,
    start_server,
    stop_server,
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def live_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Any, str]]:
    """A live server on a fresh SQLite file, or on a fresh PostgreSQL schema when
    ``SKYFENCE_TEST_POSTGRES_URL`` is set."""
    from tests.conftest import _postgres_schema_url, postgres_url

    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    if request.param == "sqlite":
        yield from _live_api(tmp, f"sqlite:///{tmp / 'store.db'}")
        return
    base = postgres_url()
    if base is None:
        pytest.skip("PostgreSQL variant: set SKYFENCE_TEST_POSTGRES_URL to run it")
    for url in _postgres_schema_url(base):
        yield from _live_api(tmp, url)


def _live_api(tmp: Path, url: str) -> Iterator[tuple[Any, str]]:
    from skyfence.app import App
    from skyfence.app.changes import propose

    app = App(make_settings(tmp, url))
    propose(app, root(), POLICY, reason="start")
    admin = mint(app, "fuzzer", ["admin"])
    env = {**os.environ, "SKYFENCE_DATA_DIR": str(tmp / "data"), "SKYFENCE_DATABASE_URL": url,
           "SKYFENCE_CACHE_DIR": str(CACHE)}  # fmt: skip
    server = start_server(env)
    try:
        yield schemathesis.openapi.from_url(f"{server.url}/openapi.json"), admin
    finally:
        stop_server(server)


def test_no_5xx_and_responses_match_the_schema(live_api: tuple[Any, str]) -> None:
    from hypothesis import given
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema, admin = live_api
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]  # fmt: skip
    operations = [r.ok() for r in schema.get_all_operations()]
    tested = 0
    statuses: list[int] = []
    for operation in operations:
        if operation.path.startswith("/v1/whatif") or operation.path == "/docs":
            continue  # what-ifs are minutes of work each; /docs is HTML
        tested += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck),
                  derandomize=True, database=None)  # fmt: skip
        def run(case: Any) -> None:
            headers = dict(case.headers or {})
            headers.setdefault("Authorization", f"Bearer {admin}")
            case.headers = headers
            response = case.call_and_validate(checks=checks, timeout=60)
            statuses.append(response.status_code)

        run()
    assert tested >= 20
    assert len(statuses) >= 5 * tested  # the requests were made
    assert any(s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
