"""The ``kubernetes`` library, imported in the parts the plugin uses and no more.

The package's ``__init__`` imports every part of the library: the generated client and the
kubeconfig loaders, which the plugin uses, and also the dynamic client (with jsonschema),
websocket streams, watches, leader election and informers, which it does not: about 65 ms of
each run's start (a third of the library's import). :func:`import_parts` imports the package
without running its ``__init__`` when nothing has imported it yet, then the parts the plugin
uses. The package gets a module ``__getattr__`` that imports any other part the first time it
is asked for, so that code in the same process that later does ``import kubernetes`` and uses
``kubernetes.watch`` or ``kubernetes.__version__`` finds them as the ``__init__`` would have
made them. When the package is already imported, it is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading

# What kubernetes/__init__.py imports, each a subpackage of its own.
_PARTS = frozenset(
    {"client", "config", "dynamic", "watch", "stream", "utils", "leaderelection", "informer"}
)
_LOCK = threading.Lock()


def import_parts() -> None:
    """Import ``kubernetes.client`` and ``kubernetes.config`` (not the rest of the library
    when the package is imported here first). Raises ImportError without the library."""
    with _LOCK:
        if "kubernetes" not in sys.modules:
            spec = importlib.util.find_spec("kubernetes")
            if spec is None or spec.loader is None:
                raise ModuleNotFoundError("No module named 'kubernetes'", name="kubernetes")
            package = importlib.util.module_from_spec(spec)
            package.__project__ = "kubernetes"  # type: ignore[attr-defined]
            setattr(package, "__getattr__", _part)  # noqa: B010 - PEP 562, a module's hook
            sys.modules["kubernetes"] = package
        importlib.import_module("kubernetes.client")
        importlib.import_module("kubernetes.config")


def _part(name: str) -> object:
    """A part of the package its ``__init__`` would have imported, imported on first use."""
    if name in _PARTS:
        return importlib.import_module(f"kubernetes.{name}")
    if name == "__version__":
        version: object = importlib.import_module("kubernetes.client").__version__
        return version
    raise AttributeError(f"module 'kubernetes' has no attribute {name!r}")
