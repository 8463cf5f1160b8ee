"""The ``Examples`` sections of the detect docstrings run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "skyfence.detect",
    "skyfence.detect.telemetry",
    "skyfence.detect.tracks",
    "skyfence.detect.history",
    "skyfence.detect.impact",
    "skyfence.detect.scenario",
    "skyfence.detect.testing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
