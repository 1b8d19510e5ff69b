"""The Kubernetes environment engine.

Not available yet: server-side apply and rollout watching are the subject of the
environment-engine work (rendering is in ``qengine_kubernetes.render``). Until then a job that
needs this engine fails with a clear error instead of pretending to deploy.
"""

from __future__ import annotations

from qengine._errors import PluginError


def build_engine() -> object:
    """Build the environment engine; refuses while the engine is not yet available."""
    raise PluginError(
        "the Kubernetes environment engine is not available in this version of qengine-kubernetes",
        hint="`qengine validate` and `qengine plan` work; deploying comes in a later release.",
    )
