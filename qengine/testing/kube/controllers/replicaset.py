"""The ReplicaSet controller: keep ``spec.replicas`` pods, report ready and available counts."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.controllers.common import (
    CONTROLLER,
    owned,
    pod_active,
    pod_from_template,
    pod_ready,
    random_suffix,
    rtype,
    with_status,
)
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now, start_pod_termination
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]
COMPONENT = "replicaset-controller"


def _unsettled(rs: JSON) -> bool:
    want, status = rs.get("spec", {}).get("replicas", 1), rs.get("status") or {}
    return bool(status.get("replicas", 0) != want or status.get("readyReplicas", 0) != want)


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the ReplicaSets in ``work`` (caller holds the store lock)."""
    rs_type = rtype(api, "apps", "replicasets")
    for rs in work.objects(rs_type.key, _unsettled):
        if rs["metadata"].get("deletionTimestamp"):
            continue
        pods = [p for p in owned(api, rs, "", "pods") if pod_active(p)]
        _scale(api, rs, pods)
        pods = [p for p in owned(api, rs, "", "pods") if pod_active(p)]
        api.commit_raw(rs_type, with_status(rs, _status(rs, pods)))


def _scale(api: ObjectApi, rs: JSON, pods: list[JSON]) -> None:
    want = int(rs.get("spec", {}).get("replicas", 1))
    pod_type = rtype(api, "", "pods")
    template = rs.get("spec", {}).get("template") or {}
    for _ in range(want - len(pods)):
        name = f"{rs['metadata']['name']}-{random_suffix(api)}"
        pod = pod_from_template(rs, template, name, {})
        api.create(pod_type, rs["metadata"]["namespace"], pod, CONTROLLER)
        recorder.record(api, rs, "Normal", "SuccessfulCreate", f"Created pod: {name}", COMPONENT)
    if len(pods) > want:
        # Not-ready pods go first, then the newest, as the real controller ranks them.
        ranked = sorted(pods, key=lambda p: (pod_ready(p), p["metadata"]["creationTimestamp"]))
        for pod in ranked[: len(pods) - want]:
            if api.pod_termination_delay > 0:
                start_pod_termination(api, pod)
            else:
                remove_now(api, pod_type, pod)
            recorder.record(
                api,
                rs,
                "Normal",
                "SuccessfulDelete",
                f"Deleted pod: {pod['metadata']['name']}",
                COMPONENT,
            )


def _status(rs: JSON, pods: list[JSON]) -> JSON:
    ready = sum(1 for p in pods if pod_ready(p))
    status: JSON = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    return {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
