"""Names of a module imported from their own modules on first use (PEP 562).

A package that re-exports many names (``qengine``, ``qengine.plugin``, ``qengine.secrets``)
would otherwise import every module behind them as soon as anything imports the package, and
some of them are heavy (the runner, the secrets core's cryptography). The package lists each
lazy name with its module and sets ``__getattr__, __dir__ = lazy_names(__name__, LAZY)``;
static type checkers see the names through ``if TYPE_CHECKING:`` imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module ``__getattr__`` that imports ``names[name]`` and returns its ``name`` (kept
    in the module afterwards), and the matching ``__dir__``."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
