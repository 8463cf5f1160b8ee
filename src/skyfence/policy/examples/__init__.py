"""Documented example policies shipped with skyfence (``skyfence policy example NAME``)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

from skyfence.errors import NotFoundError

if TYPE_CHECKING:
    from skyfence.policy.model import Policy

__all__ = ["example_names", "example_text", "load_example"]


def example_names() -> list[str]:
    """Names of the shipped example policies."""
    files = resources.files(__name__)
    return sorted(p.name[: -len(".yaml")] for p in files.iterdir() if p.name.endswith(".yaml"))


def example_text(name: str) -> str:
    """The YAML text of example ``name`` (``NotFoundError`` lists the names)."""
    if name not in example_names():
        raise NotFoundError(
            f"no example policy {name!r}; examples are: {', '.join(example_names())}"
        )
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load_example(name: str) -> Policy:
    """The example ``name`` parsed into a :class:`skyfence.policy.Policy`."""
    from skyfence.policy.loader import parse_policy

    return parse_policy(example_text(name), f"{name}.yaml")
