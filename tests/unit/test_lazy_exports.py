"""Every name `persistence` and `jobs` export resolves, from the module __all__ says."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["persistence", "jobs"])
def test_every_exported_name_resolves_and_unknown_names_do_not(package: str) -> None:
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018
