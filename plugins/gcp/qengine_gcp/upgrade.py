"""Kubernetes version upgrades: one minor version at a time, never backwards (GKE's rule for
the control plane)."""

from __future__ import annotations

from qengine.plugin import InvalidInputError


def minor(version: str) -> tuple[int, int]:
    """``"1.32"`` (or ``"1.32.4-gke.1"``, ``"v1.32"``) as ``(1, 32)``."""
    major, minor_part = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor_part.split("-")[0])


def check_upgrade(current: str, target: str) -> bool:
    """True if going from ``current`` to ``target`` changes the version, False if already
    there; a downgrade or a skipped minor version is refused, naming the version to go to."""
    now, wanted = minor(current), minor(target)
    if wanted == now:
        return False
    if wanted < now:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: {target} is older than the cluster's {current}",
            hint="GKE cannot downgrade a control plane.",
        )
    if wanted[0] != now[0] or wanted[1] - now[1] > 1:
        raise InvalidInputError(
            f"$.cluster.kubernetes_version: {current} to {target} skips a minor version",
            hint=f"Upgrade one minor version at a time: run the upgrade to "
            f"{now[0]}.{now[1] + 1} first.",
        )
    return True
