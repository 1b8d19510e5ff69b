"""qengine-kubernetes: cluster targets for environment jobs, and the engine's settings of them."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qengine_kubernetes.settings import KubeSettings
    from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget

__all__ = ["InClusterTarget", "KubeSettings", "KubeconfigTarget", "SandboxTarget"]


def __getattr__(name: str) -> object:
    # Imported on first use: loading the plugin to validate a job without a Kubernetes
    # target does not build its section classes.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "qengine_kubernetes.settings" if name == "KubeSettings" else "qengine_kubernetes.spec"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
