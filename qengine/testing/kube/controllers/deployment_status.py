"""Deployment status and conditions, as the real deployment controller writes them.

``Available`` is True with MinimumReplicasAvailable once at least replicas - maxUnavailable
pods are available. ``Progressing`` moves NewReplicaSetCreated -> ReplicaSetUpdated ->
NewReplicaSetAvailable, or to False with ProgressDeadlineExceeded when no progress was made
for ``progressDeadlineSeconds`` of the simulated clock.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.clock import parse_stamp
from qengine.testing.kube.controllers.common import (
    get_condition,
    rtype,
    set_condition,
    with_status,
)
from qengine.testing.kube.controllers.strategy import REVISION, revision, unavailable
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]


def update_status(
    api: ObjectApi, deploy: JSON, new_rs: JSON, old: list[JSON], created: bool
) -> None:
    spec = deploy["spec"]
    replicas = int(spec.get("replicas", 1))
    all_sets = [new_rs, *old]

    def stat(rs: JSON, key: str) -> int:
        return int(rs.get("status", {}).get(key, 0))

    status = clone(deploy.get("status") or {})
    status["observedGeneration"] = deploy["metadata"].get("generation", 1)
    status["replicas"] = sum(stat(rs, "replicas") for rs in all_sets)
    status["updatedReplicas"] = stat(new_rs, "replicas")
    status["readyReplicas"] = sum(stat(rs, "readyReplicas") for rs in all_sets)
    status["availableReplicas"] = sum(stat(rs, "availableReplicas") for rs in all_sets)
    missing = max(0, status["replicas"] - status["availableReplicas"])
    status["unavailableReplicas"] = missing
    for key in (
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
    ):
        if not status[key]:
            del status[key]
    now = api.store.clock.stamp()
    if status.get("availableReplicas", 0) >= replicas - unavailable(deploy):
        set_condition(
            status,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            now,
        )
    else:
        set_condition(
            status,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            now,
        )
    _progressing(api, deploy, status, new_rs, old, created, now)
    new = with_status(deploy, status)
    new["metadata"].setdefault("annotations", {})[REVISION] = str(revision(new_rs))
    api.commit_raw(rtype(api, "apps", "deployments"), new)


def _progressing(
    api: ObjectApi,
    deploy: JSON,
    status: JSON,
    new_rs: JSON,
    old: list[JSON],
    created: bool,
    now: str,
) -> None:
    replicas = int(deploy["spec"].get("replicas", 1))
    name = new_rs["metadata"]["name"]
    complete = (
        status.get("updatedReplicas", 0) == replicas
        and status.get("availableReplicas", 0) >= replicas
        and not any(rs.get("status", {}).get("replicas", 0) for rs in old)
        and new_rs["spec"].get("replicas", 0) == replicas
    )
    current = get_condition({"status": status}, "Progressing")
    if complete:
        set_condition(
            status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{name}" has successfully progressed.',
            now,
        )
    elif created or current is None:
        set_condition(
            status,
            "Progressing",
            "True",
            "NewReplicaSetCreated",
            f'Created new replica set "{name}"',
            now,
        )
    elif current.get("reason") == "ProgressDeadlineExceeded":
        return
    elif _deadline_passed(api, deploy, current):
        set_condition(
            status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{name}" has timed out progressing.',
            now,
        )
    elif _progress_changed(deploy, status) or current.get("reason") == "NewReplicaSetAvailable":
        set_condition(
            status,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            f'ReplicaSet "{name}" is progressing.',
            now,
        )


def _progress_changed(deploy: JSON, status: JSON) -> bool:
    before = deploy.get("status") or {}
    keys = ("updatedReplicas", "availableReplicas", "readyReplicas", "replicas")
    return any(before.get(k, 0) != status.get(k, 0) for k in keys)


def _deadline_passed(api: ObjectApi, deploy: JSON, current: JSON) -> bool:
    deadline = deploy["spec"].get("progressDeadlineSeconds")
    if deadline is None or not current.get("lastUpdateTime"):
        return False
    return api.store.clock.time() - parse_stamp(current["lastUpdateTime"]) > int(deadline)
