"""The ``Examples`` sections of the regions docstrings run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "skyfence.regions",
    "skyfence.regions.region",
    "skyfence.regions.worldview",
    "skyfence.regions.expr",
    "skyfence.regions.index",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
