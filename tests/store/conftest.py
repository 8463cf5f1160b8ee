"""Store test helpers: small valid policy documents. The store fixtures (``store_url``,
``make_store``, ``store``, ``clock``) live in tests/conftest.py, shared with tests/security."""

from __future__ import annotations

from typing import Any

import pytest

from skyfence.policy import Policy


def doc(name: str, *, state: str = "active", region: str = "PL", **extra: Any) -> dict[str, Any]:
    """A one-rule policy document (no sensitive rule: applies at once)."""
    rule = {"id": "r1", "region": region, "state": state, **extra}
    return {"name": name, "rules": [rule]}


def sensitive(name: str, *, state: str = "suspended") -> dict[str, Any]:
    """A policy document whose only rule is marked sensitive: needs a second person."""
    return doc(name, state=state, sensitive=True)


def stored(document: dict[str, Any]) -> dict[str, Any]:
    """The form the store keeps (the policy's ``to_document()``)."""
    return Policy.from_document(document).to_document()


@pytest.fixture()
def docs() -> Any:
    class Docs:
        plain = staticmethod(doc)
        sensitive = staticmethod(sensitive)
        stored = staticmethod(stored)

    return Docs
