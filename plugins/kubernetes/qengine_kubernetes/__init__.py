"""qengine-kubernetes: cluster targets for environment jobs, and the engine's settings of them."""

from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget

__all__ = ["InClusterTarget", "KubeSettings", "KubeconfigTarget", "SandboxTarget"]
