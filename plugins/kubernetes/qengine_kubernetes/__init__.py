"""qengine-kubernetes: cluster targets for environment jobs."""

from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget

__all__ = ["InClusterTarget", "KubeconfigTarget", "SandboxTarget"]
