"""Kubernetes version upgrades: one minor version at a time, never backwards."""

from __future__ import annotations

from qengine.plugin import InvalidInputError


def minor(version: str) -> tuple[int, int]:
    """``"1.31"`` (or ``"1.31.2"``, ``"v1.31"``) as ``(1, 31)``."""
    major, minor_part = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor_part)


def check_upgrade(current: str, target: str) -> bool:
    """True if an upgrade from ``current`` to ``target`` is needed, False if already there.

    Refuses a downgrade and a skip of a minor version (EKS upgrades the control plane one
    minor version at a time), naming the version to go to first.
    """
    now, wanted = minor(current), minor(target)
    if wanted == now:
        return False
    if wanted < now:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: {target} is older than the cluster's {current}",
            hint="EKS cannot downgrade a cluster.",
        )
    if wanted[0] != now[0] or wanted[1] - now[1] > 1:
        step = f"{now[0]}.{now[1] + 1}"
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: {current} to {target} skips a minor version",
            hint=f"Upgrade one minor version at a time: run the upgrade to {step} first.",
        )
    return True
