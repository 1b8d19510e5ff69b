"""Deployment status and conditions, as the real deployment controller writes them.

``Available`` is True with MinimumReplicasAvailable once at least replicas - maxUnavailable
pods are available. ``Progressing`` follows ``syncRolloutStatus`` of
``pkg/controller/deployment`` (Kubernetes 1.31): NewReplicaSetCreated (or
FoundNewReplicaSet) when a rollout starts, ReplicaSetUpdated each time it makes progress
(more updated, ready or available replicas, fewer old ones), NewReplicaSetAvailable when it
completes, and False with ProgressDeadlineExceeded once no progress was made for
``progressDeadlineSeconds`` of the simulated clock (checked on every pass, without anything
touching the Deployment, as the controller requeues a stuck Deployment). A paused
Deployment's Progressing is Unknown (DeploymentPaused, then DeploymentResumed), with no
deadline while paused.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.clock import parse_stamp
from qengine.testing.kube.controllers.common import get_condition, rtype, with_status
from qengine.testing.kube.controllers.strategy import REVISION, revision, unavailable
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]
NO_DEADLINE = 2**31 - 1  # progressDeadlineSeconds that means "never" (math.MaxInt32)
_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


def update_status(
    api: ObjectApi, deploy: JSON, new_rs: JSON | None, old: list[JSON], created: bool
) -> None:
    """Write the Deployment's status from its ReplicaSets (``new_rs`` None: a paused
    Deployment whose template has no ReplicaSet yet)."""
    spec = deploy["spec"]
    replicas = int(spec.get("replicas", 1))
    all_sets = [rs for rs in [new_rs, *old] if rs is not None]

    def stat(rs: JSON | None, key: str) -> int:
        return int((rs or {}).get("status", {}).get(key, 0))

    status = clone(deploy.get("status") or {})
    status["observedGeneration"] = deploy["metadata"].get("generation", 1)
    status["replicas"] = sum(stat(rs, "replicas") for rs in all_sets)
    status["updatedReplicas"] = stat(new_rs, "replicas")
    status["readyReplicas"] = sum(stat(rs, "readyReplicas") for rs in all_sets)
    status["availableReplicas"] = sum(stat(rs, "availableReplicas") for rs in all_sets)
    total = sum(int(rs["spec"].get("replicas", 0)) for rs in all_sets)
    status["unavailableReplicas"] = max(0, total - status["availableReplicas"])
    for key in (*_COUNTS, "unavailableReplicas"):
        if not status[key]:
            del status[key]
    now = api.store.clock.stamp()
    if status.get("availableReplicas", 0) >= replicas - unavailable(deploy):
        message = "Deployment has minimum availability."
        _set(status, "Available", "True", "MinimumReplicasAvailable", message, now)
    else:
        message = "Deployment does not have minimum availability."
        _set(status, "Available", "False", "MinimumReplicasUnavailable", message, now)
    _progressing(api, deploy, status, new_rs, created, now)
    new = with_status(deploy, status)
    if new_rs is not None:
        new["metadata"].setdefault("annotations", {})[REVISION] = str(revision(new_rs))
    api.commit_raw(rtype(api, "apps", "deployments"), new)


def _progressing(
    api: ObjectApi, deploy: JSON, status: JSON, new_rs: JSON | None, created: bool, now: str
) -> None:
    deadline = deploy["spec"].get("progressDeadlineSeconds")
    if deadline is None or int(deadline) == NO_DEADLINE:
        _remove(status, "Progressing")
        return
    current = get_condition({"status": status}, "Progressing")
    reason = (current or {}).get("reason")
    if deploy["spec"].get("paused"):
        if reason not in ("ProgressDeadlineExceeded", "DeploymentPaused"):
            _set(status, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now)
        return
    if reason == "DeploymentPaused":
        _set(status, "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now)
    if new_rs is None:
        return
    name = new_rs["metadata"]["name"]
    if created:
        message = f'Created new replica set "{name}"'
        _set(status, "Progressing", "True", "NewReplicaSetCreated", message, now)
    elif current is None:
        message = f'Found new replica set "{name}"'
        _set(status, "Progressing", "True", "FoundNewReplicaSet", message, now)
    current = get_condition({"status": status}, "Progressing") or {}
    if (
        status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and current.get("reason") == "NewReplicaSetAvailable"
    ):
        return  # a finished rollout: no progress to estimate
    if _complete(deploy, status):
        message = f'ReplicaSet "{name}" has successfully progressed.'
        _set(status, "Progressing", "True", "NewReplicaSetAvailable", message, now)
    elif _progressed(deploy.get("status") or {}, status):
        # Progress moves lastUpdateTime even when the reason stays (the controller's special
        # case for this condition); lastTransitionTime moves only with the status.
        since = current.get("lastTransitionTime", now) if current.get("status") == "True" else now
        _remove(status, "Progressing")
        message = f'ReplicaSet "{name}" is progressing.'
        _set(status, "Progressing", "True", "ReplicaSetUpdated", message, now)
        status["conditions"][-1]["lastTransitionTime"] = since
    elif _timed_out(api, int(deadline), current):
        message = f'ReplicaSet "{name}" has timed out progressing.'
        _set(status, "Progressing", "False", "ProgressDeadlineExceeded", message, now)


def _complete(deploy: JSON, status: JSON) -> bool:
    """``DeploymentComplete``: every replica updated and available, nothing old left."""
    replicas = int(deploy["spec"].get("replicas", 1))
    counts = (status.get(k, 0) for k in ("updatedReplicas", "replicas", "availableReplicas"))
    observed = int(status.get("observedGeneration", 0)) >= deploy["metadata"].get("generation", 1)
    return all(c == replicas for c in counts) and observed


def _progressed(before: JSON, after: JSON) -> bool:
    """``DeploymentProgressing``: more updated, ready or available replicas, or fewer old."""

    def old(status: JSON) -> int:
        return int(status.get("replicas", 0)) - int(status.get("updatedReplicas", 0))

    return (
        after.get("updatedReplicas", 0) > before.get("updatedReplicas", 0)
        or old(after) < old(before)
        or after.get("readyReplicas", 0) > before.get("readyReplicas", 0)
        or after.get("availableReplicas", 0) > before.get("availableReplicas", 0)
    )


def _timed_out(api: ObjectApi, deadline: int, current: JSON) -> bool:
    """``DeploymentTimedOut``: no progress since the condition's lastUpdateTime."""
    if current.get("reason") == "NewReplicaSetAvailable":
        return False
    if current.get("reason") == "ProgressDeadlineExceeded":
        return True
    if not current.get("lastUpdateTime"):
        return False
    return parse_stamp(current["lastUpdateTime"]) + deadline < api.store.clock.time()


def _set(status: JSON, ctype: str, value: str, reason: str, message: str, now: str) -> None:
    """``SetDeploymentCondition``: nothing changes when status and reason are the same;
    otherwise the condition is replaced (and goes last), keeping lastTransitionTime when
    only the reason changes."""
    current = get_condition({"status": status}, ctype)
    if current is not None and (current.get("status"), current.get("reason")) == (value, reason):
        return
    since = now
    if current is not None and current.get("status") == value:
        since = current.get("lastTransitionTime", now)
    _remove(status, ctype)
    status.setdefault("conditions", []).append(
        {
            "type": ctype,
            "status": value,
            "lastUpdateTime": now,
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }
    )


def _remove(status: JSON, ctype: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != ctype]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
