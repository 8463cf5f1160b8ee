"""``skyfence.api``: every name it offers resolves to the object of the package it lives in,
and an unknown name says which names there are."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import skyfence.api as api


@pytest.mark.parametrize("name", api.__all__)
def test_each_name_is_the_packages_own_object(name: str) -> None:
    module = importlib.import_module(api._WHERE[name])
    assert getattr(api, name) is getattr(module, name)


def test_a_user_starts_with_about_two_dozen_names() -> None:
    assert 20 <= len(api.__all__) <= 45
    assert set(api.__all__) <= set(dir(api))


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(AttributeError, match="Constellation"):
        api.Constelation  # noqa: B018 - the typo is the test


def test_names_load_only_their_own_package() -> None:
    code = (
        "import sys\n"
        "from skyfence.api import Constellation\n"
        "print(sorted(m for m in ('skyfence.store', 'skyfence.policy', 'sqlalchemy') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
