"""The decision engine, by its older module name.

The engine now lives in :mod:`skyfence.policy.compile` (:class:`CompiledPolicy`),
:mod:`skyfence.policy.kernel` (many rows), :mod:`skyfence.policy.single` (one row) and
:mod:`skyfence.policy.explain` (reasons); this module re-exports their public names.
"""

from __future__ import annotations

from skyfence.policy.compile import CompiledPolicy, default_resolve
from skyfence.policy.decision import (
    REASONS,
    BatchDecision,
    Decision,
    RegionIndexLike,
    RegionLike,
)

__all__ = [
    "CompiledPolicy",
    "Decision",
    "BatchDecision",
    "REASONS",
    "RegionLike",
    "RegionIndexLike",
    "default_resolve",
]

#: The older private name of :func:`default_resolve` (``skyfence.cli.policy`` uses it).
_default_resolve = default_resolve
