"""Attacks on the store and the application layer, each on SQLite and (when
``SKYFENCE_TEST_POSTGRES_URL`` is set) PostgreSQL, through the shared ``store_url`` fixture.

``app`` is an :class:`~skyfence.app.App` whose database is ``store_url`` and whose data dir
(signing keys) is a temporary directory. The people are local principals with their own OS
accounts, as on a shared operations machine; ``mallory`` is whoever has a shell there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skyfence.app import App
from skyfence.app.identity import Principal
from skyfence.policy import example_text
from skyfence.settings import load_settings

ALICE = Principal.local("alice", os_user="alice")
BOB = Principal.local("bob", os_user="bob")
CAROL = Principal.local("carol", os_user="carol")

SIMFEROPOL = (44.95, 34.10)
KHARKIV = (49.99, 36.23)
MARCH = "2026-03-01T12:00:00Z"


@pytest.fixture(scope="session")
def world_loaded() -> None:
    from skyfence.regions import world

    world().index()


@pytest.fixture()
def app(store_url: str, tmp_path: Path, world_loaded: None) -> App:
    return App(load_settings(data_dir=tmp_path / "data", database_url=store_url))


@pytest.fixture()
def ukraine(tmp_path: Path) -> dict[str, Path]:
    """The ukraine-2026 example policy and two registered terminals (files)."""
    ua = tmp_path / "ua.yaml"
    ua.write_text(example_text("ukraine-2026"), encoding="utf-8")
    terms = tmp_path / "terms.csv"
    terms.write_text(
        "id,country,plan,whitelists,speed_exempt\nW1,UA,fixed,UA,false\nG1,UA,government,UA,false\n",
        encoding="utf-8",
    )
    return {"ua": ua, "terms": terms, "dir": tmp_path}


def apply_approved(app: App, source: Any, reason: str = "test") -> int:
    """Propose as alice and, if it waits for a second person, approve as bob: the version."""
    from skyfence.app.changes import approve, propose

    res = propose(app, ALICE, source, reason=reason)
    if res.status == "pending":
        res = approve(app, BOB, res.change_id, reason="checked")
    assert res.version is not None
    return res.version


class Sec:
    """What the security tests share (test modules cannot import the conftest)."""

    ALICE = ALICE
    BOB = BOB
    CAROL = CAROL
    SIMFEROPOL = SIMFEROPOL
    KHARKIV = KHARKIV
    MARCH = MARCH
    apply_approved = staticmethod(apply_approved)


@pytest.fixture()
def sec() -> type[Sec]:
    return Sec
