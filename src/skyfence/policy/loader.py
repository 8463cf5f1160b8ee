"""Read and validate policy files (YAML or JSON) with line-precise errors.

Every value keeps the line it came from (:mod:`skyfence.policy.document`) and every problem
is reported as ``policy.yaml line 12: state 'actve' is not one of active, coming_soon, ...``
(:mod:`skyfence.policy.validate`). Plain YAML scalars are read as text where text is
expected, so ``region: NO`` means Norway, not ``False``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from skyfence.errors import ParseError
from skyfence.policy.document import MAX_JSON_CHARS
from skyfence.policy.model import Policy
from skyfence.policy.validate import check_text, first_problem
from skyfence.regions.io import read_text_bounded

__all__ = ["load_policy", "parse_policy", "check_policy", "policy_from_data"]


def check_policy(
    text: str, source: str = "<policy>", *, resolve: Callable[[str], Any] | None = None
) -> tuple[Policy | None, list[ParseError]]:
    """Validate policy text; return the policy (``None`` if invalid) and every problem found.

    ``resolve`` (e.g. ``lambda e: parse_region(e, world())``) also checks that each region
    expression can be built; each problem carries the line it comes from.
    """
    parts, errors = check_text(text, source, resolve)
    return (Policy(*parts) if parts is not None and not errors else None), errors


def parse_policy(
    text: str, source: str = "<policy>", *, resolve: Callable[[str], Any] | None = None
) -> Policy:
    """Parse and validate policy text (YAML or JSON); raise ``ParseError`` at the first problem.

    Examples
    --------
    >>> p = parse_policy("rules:\\n  - {id: ua, region: UA, state: active}\\n")
    >>> p.rules[0].state
    'active'
    >>> parse_policy("rules:\\n  - {id: ua, region: UA, state: actve}\\n", "p.yaml")
    Traceback (most recent call last):
    ...
    skyfence.errors.ParseError: p.yaml line 2: state 'actve' is not one of active, coming_soon, waitlist, pending_licence, not_licensed, suspended, denied (did you mean 'active'?)
    """
    policy, errors = check_policy(text, source, resolve=resolve)
    if errors:
        raise first_problem(errors)
    assert policy is not None
    return policy


def load_policy(path: str | Path, *, resolve: Callable[[str], Any] | None = None) -> Policy:
    """Read a policy file (``.yaml``, ``.yml`` or ``.json``); see :func:`parse_policy`.

    Only a regular UTF-8 file of at most 64 MiB is read (not a device or a pipe).
    """
    path = Path(path)
    text = read_text_bounded(path, MAX_JSON_CHARS, "policy file")
    return parse_policy(text, path.name, resolve=resolve)


def policy_from_data(data: Mapping[str, Any], *, source: str = "<document>") -> Policy:
    """Validate a policy given as Python data (e.g. a stored JSON document)."""
    return Policy.from_document(data, source=source)
