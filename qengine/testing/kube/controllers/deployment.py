"""The Deployment controller: a ReplicaSet per pod template, rolling updates, status.

Rolling updates honour ``maxSurge`` and ``maxUnavailable`` (Recreate scales the old
ReplicaSets to zero first). The status and conditions are the ones the real controller
writes and ``kubectl rollout status`` / ``kubectl wait --for=condition=Available`` read:
observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
unavailableReplicas, Available (MinimumReplicasAvailable) and Progressing
(NewReplicaSetCreated, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded).
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.controllers.common import (
    CONTROLLER,
    get_condition,
    owned,
    owner_ref,
    rtype,
    short_hash,
)
from qengine.testing.kube.controllers.deployment_status import update_status
from qengine.testing.kube.controllers.strategy import REVISION, revision, surge, unavailable
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]
COMPONENT = "deployment-controller"
HASH_LABEL = "pod-template-hash"


def _unsettled(deploy: JSON) -> bool:
    status = deploy.get("status") or {}
    if status.get("observedGeneration") != deploy["metadata"].get("generation"):
        return True
    progressing = get_condition(deploy, "Progressing") or {}
    return progressing.get("reason") not in ("NewReplicaSetAvailable", "ProgressDeadlineExceeded")


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the Deployments in ``work`` (caller holds the store lock)."""
    for deploy in work.objects(rtype(api, "apps", "deployments").key, _unsettled):
        if not deploy["metadata"].get("deletionTimestamp"):
            _sync(api, deploy)


def _template_hash(deploy: JSON) -> str:
    return short_hash(deploy["spec"].get("template") or {})[:10]


def _sync(api: ObjectApi, deploy: JSON) -> None:
    sets = owned(api, deploy, "apps", "replicasets")
    pod_hash = _template_hash(deploy)
    new_rs = next(
        (rs for rs in sets if rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash), None
    )
    old = [rs for rs in sets if rs is not new_rs]
    created = False
    if new_rs is None:
        new_rs = _create_rs(api, deploy, pod_hash, old)
        created = True
    if not deploy["spec"].get("paused"):
        _rollout(api, deploy, new_rs, old)
    sets = owned(api, deploy, "apps", "replicasets")
    new_rs = next(rs for rs in sets if rs["metadata"]["uid"] == new_rs["metadata"]["uid"])
    old = [rs for rs in sets if rs is not new_rs]
    _cleanup(api, deploy, old)
    update_status(api, deploy, new_rs, old, created)


def _create_rs(api: ObjectApi, deploy: JSON, pod_hash: str, old: list[JSON]) -> JSON:
    spec = deploy["spec"]
    template = clone(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = clone(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    number = max([revision(rs) for rs in old] + [0]) + 1
    replicas = (
        int(spec.get("replicas", 1)) if not any(rs["spec"].get("replicas") for rs in old) else 0
    )
    name = f"{deploy['metadata']['name']}-{pod_hash}"
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": deploy["metadata"]["namespace"],
            "labels": dict(template["metadata"]["labels"]),
            "annotations": {
                REVISION: str(number),
                "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                "deployment.kubernetes.io/max-replicas": str(
                    int(spec.get("replicas", 1)) + surge(deploy)
                ),
            },
            "ownerReferences": [owner_ref(deploy)],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": spec.get("minReadySeconds", 0),
            "selector": selector,
            "template": template,
        },
    }
    created = api.create(
        rtype(api, "apps", "replicasets"), deploy["metadata"]["namespace"], rs, CONTROLLER
    )
    recorder.record(
        api,
        deploy,
        "Normal",
        "ScalingReplicaSet",
        f"Scaled up replica set {name} from 0 to {replicas}",
        COMPONENT,
    )
    return created


def _scale_rs(api: ObjectApi, deploy: JSON, rs: JSON, replicas: int) -> None:
    current = int(rs["spec"].get("replicas", 0))
    if current == replicas:
        return
    new = clone(rs)
    new["spec"]["replicas"] = replicas
    annotations = new["metadata"].setdefault("annotations", {})
    annotations["deployment.kubernetes.io/desired-replicas"] = str(
        deploy["spec"].get("replicas", 1)
    )
    new["metadata"]["generation"] = int(new["metadata"].get("generation", 1)) + 1
    api.commit_raw(rtype(api, "apps", "replicasets"), new)
    verb = "up" if replicas > current else "down"
    recorder.record(
        api,
        deploy,
        "Normal",
        "ScalingReplicaSet",
        f"Scaled {verb} replica set {rs['metadata']['name']} from {current} to {replicas}",
        COMPONENT,
    )


def _available(rs: JSON) -> int:
    return int(rs.get("status", {}).get("availableReplicas", 0))


def _rollout(api: ObjectApi, deploy: JSON, new_rs: JSON, old: list[JSON]) -> None:
    replicas = int(deploy["spec"].get("replicas", 1))
    active_old = [rs for rs in old if rs["spec"].get("replicas", 0) > 0]
    if (deploy["spec"].get("strategy") or {}).get("type") == "Recreate":
        for rs in active_old:
            _scale_rs(api, deploy, rs, 0)
        if not any(rs.get("status", {}).get("replicas", 0) for rs in old):
            _scale_rs(api, deploy, new_rs, replicas)
        return
    if not active_old:
        _scale_rs(api, deploy, new_rs, replicas)
        return
    total = sum(int(rs["spec"].get("replicas", 0)) for rs in [new_rs, *old])
    new_replicas = int(new_rs["spec"].get("replicas", 0))
    room = replicas + surge(deploy) - total
    if room > 0 and new_replicas < replicas:
        grown = min(replicas, new_replicas + room)
        _scale_rs(api, deploy, new_rs, grown)
        total += grown - new_replicas
        new_replicas = grown
    min_available = replicas - unavailable(deploy)
    new_unavailable = new_replicas - _available(new_rs)
    can_drop = total - min_available - new_unavailable
    for rs in sorted(active_old, key=revision):
        if can_drop <= 0:
            break
        current = int(rs["spec"].get("replicas", 0))
        drop = min(current, can_drop)
        _scale_rs(api, deploy, rs, current - drop)
        can_drop -= drop


def _cleanup(api: ObjectApi, deploy: JSON, old: list[JSON]) -> None:
    limit = int(deploy["spec"].get("revisionHistoryLimit", 10))
    idle = sorted(
        (
            rs
            for rs in old
            if not rs["spec"].get("replicas") and not rs.get("status", {}).get("replicas")
        ),
        key=revision,
    )
    from qengine.testing.kube.deletion import remove_now

    for rs in idle[: max(0, len(idle) - limit)]:
        remove_now(api, rtype(api, "apps", "replicasets"), rs)
