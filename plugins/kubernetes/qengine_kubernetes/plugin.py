"""Hook implementations of qengine-kubernetes (registration only; no SDK import here)."""

from __future__ import annotations

from qengine import hookimpl
from qengine._plugins import Registry
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget


def _engine_factory() -> object:
    from qengine_kubernetes.engine import build_engine

    return build_engine()


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the kubeconfig, in-cluster and sandbox targets."""
    registry.add_target(
        "kubeconfig",
        KubeconfigTarget,
        _engine_factory,
        "a cluster reached through a kubeconfig file",
    )
    registry.add_target(
        "in-cluster",
        InClusterTarget,
        _engine_factory,
        "the cluster the engine runs in (service account)",
    )
    registry.add_target(
        "sandbox", SandboxTarget, _engine_factory, "the embedded Kubernetes API simulator"
    )
