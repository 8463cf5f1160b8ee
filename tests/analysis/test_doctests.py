"""The examples in the docstrings of the analysis and application modules run as written."""

import doctest
import importlib

import pytest

MODULES = [
    "skyfence.analysis.maps",
    "skyfence.analysis.report",
    "skyfence.analysis.sharding",
    "skyfence.analysis.whatif",
    "skyfence.app._progress",
    "skyfence.app.context",
    "skyfence.cli.main",
    "skyfence.jsonable",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no examples"
