"""How a paused object is marked, and the patch that resumes it."""

from __future__ import annotations

from qengine_kubernetes.diff import PAUSED_REPLICAS, annotation
from qengine_kubernetes.render import Manifest

SUSPENDED = "suspended"


def resume_patch(live: Manifest) -> Manifest | None:
    """The merge patch that undoes a pause of ``live``; None when it is not paused.

    ``live`` must carry its ``kind``.
    """
    remembered = annotation(live, PAUSED_REPLICAS)
    if remembered is None:
        return None
    patch: Manifest = {"metadata": {"annotations": {PAUSED_REPLICAS: None}}}
    if live["kind"] == "CronJob":
        patch["spec"] = {"suspend": False}
    elif remembered.isdigit():
        patch["spec"] = {"replicas": int(remembered)}
    return patch
