"""The StatefulSet controller: ordinal pods created in order, each after the previous is Ready
(OrderedReady; Parallel creates them at once), PVCs from volumeClaimTemplates, rolling
updates from the highest ordinal down."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.controllers.common import (
    CONTROLLER,
    owned,
    owner_ref,
    pod_active,
    pod_from_template,
    pod_ready,
    rtype,
    short_hash,
    with_status,
)
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]
COMPONENT = "statefulset-controller"
REVISION_LABEL = "controller-revision-hash"


def _unsettled(sts: JSON) -> bool:
    status = sts.get("status") or {}
    want = sts.get("spec", {}).get("replicas", 1)
    return bool(status.get("readyReplicas", 0) != want or status.get("replicas", 0) != want)


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the StatefulSets in ``work`` (caller holds the store lock)."""
    for sts in work.objects(rtype(api, "apps", "statefulsets").key, _unsettled):
        if not sts["metadata"].get("deletionTimestamp"):
            _sync(api, sts)


def _revision(sts: JSON) -> str:
    return f"{sts['metadata']['name']}-{short_hash(sts['spec'].get('template'))[:10]}"


def _sync(api: ObjectApi, sts: JSON) -> None:
    pods = {p["metadata"]["name"]: p for p in owned(api, sts, "", "pods") if pod_active(p)}
    name = sts["metadata"]["name"]
    replicas = int(sts["spec"].get("replicas", 1))
    revision = _revision(sts)
    ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    pod_type = rtype(api, "", "pods")
    for ordinal in range(replicas):
        pod_name = f"{name}-{ordinal}"
        if pod_name not in pods:
            _create_pod(api, sts, ordinal, revision)
            if ordered:
                break
        elif ordered and not pod_ready(pods[pod_name]):
            break
    else:
        _roll(api, sts, pods, replicas, revision)
    for pod_name, pod in sorted(pods.items(), reverse=True):
        ordinal = int(pod_name.rsplit("-", 1)[1])
        if ordinal >= replicas:
            remove_now(api, pod_type, pod)
            recorder.record(
                api,
                sts,
                "Normal",
                "SuccessfulDelete",
                f"delete Pod {pod_name} in StatefulSet {name} successful",
                COMPONENT,
            )
            if ordered:
                break
    _status(api, sts, revision)


def _roll(api: ObjectApi, sts: JSON, pods: dict[str, JSON], replicas: int, revision: str) -> None:
    if (sts["spec"].get("updateStrategy") or {}).get("type") == "OnDelete":
        return
    if not all(pod_ready(p) for p in pods.values()):
        return
    for ordinal in reversed(range(replicas)):
        pod = pods.get(f"{sts['metadata']['name']}-{ordinal}")
        if pod is not None and pod["metadata"].get("labels", {}).get(REVISION_LABEL) != revision:
            remove_now(api, rtype(api, "", "pods"), pod)
            return


def _create_pod(api: ObjectApi, sts: JSON, ordinal: int, revision: str) -> None:
    name = f"{sts['metadata']['name']}-{ordinal}"
    if api.store.find(rtype(api, "", "pods").key, sts["metadata"]["namespace"], name) is not None:
        return  # not this set's (a deleted set's, until collected): the create waits for it
    labels = {
        REVISION_LABEL: revision,
        "statefulset.kubernetes.io/pod-name": name,
        "apps.kubernetes.io/pod-index": str(ordinal),
    }
    pod = pod_from_template(sts, sts["spec"].get("template") or {}, name, labels)
    pod["spec"]["hostname"] = name
    if sts["spec"].get("serviceName"):
        pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
    for claim in sts["spec"].get("volumeClaimTemplates") or []:
        claim_name = f"{claim['metadata']['name']}-{name}"
        _ensure_pvc(api, sts, claim, claim_name)
        volumes = pod["spec"].setdefault("volumes", [])
        volumes.append(
            {"name": claim["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name}}
        )
    api.create(rtype(api, "", "pods"), sts["metadata"]["namespace"], pod, CONTROLLER)
    message = f"create Pod {name} in StatefulSet {sts['metadata']['name']} successful"
    recorder.record(api, sts, "Normal", "SuccessfulCreate", message, COMPONENT)


def _ensure_pvc(api: ObjectApi, sts: JSON, claim: JSON, name: str) -> None:
    pvc_type = rtype(api, "", "persistentvolumeclaims")
    namespace = sts["metadata"]["namespace"]
    if api.store.find(pvc_type.key, namespace, name) is not None:
        return
    pvc: JSON = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(sts["spec"].get("selector", {}).get("matchLabels") or {}),
        },
        "spec": clone(claim.get("spec") or {}),
    }
    if (sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}).get(
        "whenDeleted"
    ) == "Delete":
        pvc["metadata"]["ownerReferences"] = [dict(owner_ref(sts), controller=False)]
    api.create(pvc_type, namespace, pvc, CONTROLLER)


def _status(api: ObjectApi, sts: JSON, revision: str) -> None:
    pods = [p for p in owned(api, sts, "", "pods") if pod_active(p)]
    ready = sum(1 for p in pods if pod_ready(p))

    def at(wanted: str) -> int:
        return sum(1 for p in pods if p["metadata"].get("labels", {}).get(REVISION_LABEL) == wanted)

    updated = at(revision)
    # As the real controller: currentRevision stays the revision the set rolls from until
    # every replica is updated (and Ready), then becomes the update revision.
    replicas = int(sts["spec"].get("replicas", 1))
    done = updated == replicas == len(pods) and ready == len(pods)
    current = (sts.get("status") or {}).get("currentRevision") or revision
    if done:
        current = revision
    status = {
        "observedGeneration": sts["metadata"].get("generation", 1),
        "replicas": len(pods),
        "readyReplicas": ready,
        "currentReplicas": at(current),
        "updatedReplicas": updated,
        "availableReplicas": ready,
        "currentRevision": current,
        "updateRevision": revision,
        "collisionCount": 0,
    }
    status = {
        k: v
        for k, v in status.items()
        if v or k in ("replicas", "observedGeneration", "availableReplicas")
    }
    api.commit_raw(rtype(api, "apps", "statefulsets"), with_status(sts, status))
