"""A Deployment's rolling-update arithmetic and revision numbers."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.controllers.common import int_or_percent

JSON = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"


def revision(rs: JSON) -> int:
    """The revision number a ReplicaSet carries (0 when it has none)."""
    return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))


def surge(deploy: JSON) -> int:
    """maxSurge resolved against the desired replicas (rounded up); 0 for Recreate."""
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    return int_or_percent(
        rolling.get("maxSurge", "25%"), int(deploy["spec"].get("replicas", 1)), round_up=True
    )


def unavailable(deploy: JSON) -> int:
    """maxUnavailable resolved (rounded down); 1 if both it and maxSurge would be 0."""
    strategy = deploy["spec"].get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0
    replicas = int(deploy["spec"].get("replicas", 1))
    rolling = strategy.get("rollingUpdate") or {}
    value = int_or_percent(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    return 1 if value == 0 and surge(deploy) == 0 else value
