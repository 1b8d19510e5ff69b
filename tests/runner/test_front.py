"""The runner package's front: ``__all__`` is sorted and exactly its public names."""

from __future__ import annotations

import types

import qengine.interfaces
import qengine.runner


def _public(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def test_all_lists_exactly_the_public_names() -> None:
    for module in (qengine.runner, qengine.interfaces):
        exported = list(module.__all__)
        assert exported == sorted(exported), module.__name__
        assert set(exported) == _public(module), module.__name__
