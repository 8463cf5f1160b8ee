"""The ``Examples`` sections of the policy docstrings run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "skyfence.policy",
    "skyfence.policy.rules",
    "skyfence.policy.terminals",
    "skyfence.policy.loader",
    "skyfence.policy.compile",
    "skyfence.policy.diff",
    "skyfence.policy.sealing",
    "skyfence.policy.testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
