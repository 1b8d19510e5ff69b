"""The Deployment controller: a ReplicaSet per pod template, rolling updates, status.

The ReplicaSet of a template is found by comparing templates (ignoring the hash label), so a
Deployment whose template goes back to an earlier one (``kubectl rollout undo``) scales that
earlier ReplicaSet up again, which takes the next revision number.

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
    semantic,
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
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
_NOT_COPIED = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def _unsettled(deploy: JSON) -> bool:
    status = deploy.get("status") or {}
    if status.get("observedGeneration") != deploy["metadata"].get("generation"):
        return True
    progressing = get_condition(deploy, "Progressing") or {}
    settled = ("NewReplicaSetAvailable", "ProgressDeadlineExceeded", "DeploymentPaused")
    return progressing.get("reason") not in settled


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the Deployments in ``work`` (caller holds the store lock)."""
    for deploy in work.objects(rtype(api, "apps", "deployments").key, _unsettled):
        if not deploy["metadata"].get("deletionTimestamp"):
            _sync(api, deploy)


def _template_hash(deploy: JSON) -> str:
    template = deploy["spec"].get("template") or {}
    collisions = (deploy.get("status") or {}).get("collisionCount")
    return short_hash([template, collisions] if collisions else template)[:10]


def _current_rs(deploy: JSON, sets: list[JSON]) -> JSON | None:
    """The oldest ReplicaSet whose pod template equals the Deployment's, ignoring its
    ``pod-template-hash`` label (the controller's ``FindNewReplicaSet``): a template that
    goes back to an earlier one (``kubectl rollout undo``) finds that earlier ReplicaSet."""
    pod_hash = _template_hash(deploy)
    for rs in sets:  # the usual case, cheaply: the template as it was when the set was made
        if rs["metadata"].get("labels", {}).get(HASH_LABEL) == pod_hash:
            return rs
    wanted = semantic(deploy["spec"].get("template") or {})
    for rs in sets:
        template = clone(rs["spec"].get("template") or {})
        (template.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
        if semantic(template) == wanted:
            return rs
    return None


def _sync(api: ObjectApi, deploy: JSON) -> None:
    sets = owned(api, deploy, "apps", "replicasets")
    new_rs = _current_rs(deploy, sets)
    old = [rs for rs in sets if rs is not new_rs]
    created = False
    paused = bool(deploy["spec"].get("paused"))
    if new_rs is None and not paused:  # a paused Deployment gets no new ReplicaSet
        new_rs = _create_rs(api, deploy, _template_hash(deploy), old)
        if new_rs is None:
            return  # a name collision: the next pass tries the next collisionCount
        created = True
    elif new_rs is not None:
        new_rs = _sync_revision(api, deploy, new_rs, old)
    if not paused and new_rs is not None:
        _rollout(api, deploy, new_rs, old)
    sets = owned(api, deploy, "apps", "replicasets")
    if new_rs is not None:
        uid = new_rs["metadata"]["uid"]
        new_rs = next(rs for rs in sets if rs["metadata"]["uid"] == uid)
    old = [rs for rs in sets if rs is not new_rs]
    _cleanup(api, deploy, old)
    update_status(api, deploy, new_rs, old, created)


def _copied_annotations(deploy: JSON) -> dict[str, str]:
    """The Deployment's annotations its ReplicaSets carry too (``kubernetes.io/change-cause``
    and the like), as the controller copies them."""
    annotations = deploy["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def _sync_revision(api: ObjectApi, deploy: JSON, rs: JSON, old: list[JSON]) -> JSON:
    """Bring the current ReplicaSet's annotations up to date: the Deployment's copied ones,
    and, when an older ReplicaSet becomes current again, the next revision number, with its
    former numbers in ``deployment.kubernetes.io/revision-history``."""
    copied = _copied_annotations(deploy)
    number = max([revision(o) for o in old] + [0]) + 1
    before = revision(rs)
    current = rs["metadata"].get("annotations") or {}
    if (
        before >= number
        and all(current.get(k) == v for k, v in copied.items())
        and rs["spec"].get("minReadySeconds", 0) == deploy["spec"].get("minReadySeconds", 0)
    ):
        return rs
    new = clone(rs)
    annotations = new["metadata"].setdefault("annotations", {})
    annotations.update(copied)
    if before < number:
        if REVISION in annotations:
            history = annotations.get(REVISION_HISTORY, "")
            annotations[REVISION_HISTORY] = f"{history},{before}" if history else str(before)
        annotations[REVISION] = str(number)
    new["spec"]["minReadySeconds"] = deploy["spec"].get("minReadySeconds", 0)
    return api.commit_raw(rtype(api, "apps", "replicasets"), new)


def _create_rs(api: ObjectApi, deploy: JSON, pod_hash: str, old: list[JSON]) -> JSON | None:
    """Create the ReplicaSet of the Deployment's template; None on a name collision with a
    ReplicaSet that is not this template's (say, one of a deleted Deployment of the same name
    that the garbage collector has not removed yet): like the real controller, bump
    ``status.collisionCount``, which changes the hash."""
    spec = deploy["spec"]
    rs_type = rtype(api, "apps", "replicasets")
    name = f"{deploy['metadata']['name']}-{pod_hash}"
    if api.store.find(rs_type.key, deploy["metadata"]["namespace"], name) is not None:
        bumped = clone(deploy)
        status = bumped.setdefault("status", {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        api.commit_raw(rtype(api, "apps", "deployments"), bumped)
        return None
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
                **_copied_annotations(deploy),
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
