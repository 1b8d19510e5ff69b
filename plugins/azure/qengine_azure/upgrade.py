"""The upgrade rule of AKS: one minor version at a time, never backwards.

AKS refuses to skip a minor version of the control plane; an upgrade job therefore names the
next minor version (or the current one, to converge), and the apply upgrades the control
plane, then the node pools, as ``azurerm_kubernetes_cluster`` does.
"""

from __future__ import annotations

from qengine.plugin import InvalidInputError
from qengine.spec import InfrastructureJob


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def check_upgrade(job: InfrastructureJob, current: str | None) -> None:
    """InvalidInputError unless ``job``'s version is the cluster's ``current`` one or the
    next minor; None (no cluster) is refused too."""
    name, target = job.cluster.name, job.cluster.kubernetes_version
    if current is None:
        raise InvalidInputError(
            f"the AKS cluster {name} does not exist: there is nothing to upgrade",
            hint="Create the cluster first (action create).",
        )
    now, then = _minor(current), _minor(target)
    if then < now:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: {target} is older than the cluster's {current}; "
            "AKS does not downgrade",
        )
    if then[0] != now[0] or then[1] > now[1] + 1:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: AKS upgrades one minor version at a time, from "
            f"{current} to {now[0]}.{now[1] + 1} next, not to {target}",
            hint="Run one upgrade job per minor version.",
        )
