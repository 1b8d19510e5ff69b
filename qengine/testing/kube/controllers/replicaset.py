"""The ReplicaSet controller: keep ``spec.replicas`` pods, report ready and available counts.

A pod is available once it has been Ready for ``minReadySeconds`` of the simulated clock.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.clock import parse_stamp
from qengine.testing.kube.controllers.common import (
    CONTROLLER,
    get_condition,
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
    ready = status.get("readyReplicas", 0)
    # Ready pods not yet available wait out minReadySeconds on the clock.
    waiting = ready != status.get("availableReplicas", 0)
    return bool(status.get("replicas", 0) != want or ready != want or waiting)


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the ReplicaSets in ``work`` (caller holds the store lock)."""
    rs_type = rtype(api, "apps", "replicasets")
    for rs in work.objects(rs_type.key, _unsettled):
        if rs["metadata"].get("deletionTimestamp"):
            continue
        pods = [p for p in owned(api, rs, "", "pods") if pod_active(p)]
        _scale(api, rs, pods)
        pods = [p for p in owned(api, rs, "", "pods") if pod_active(p)]
        api.commit_raw(rs_type, with_status(rs, _status(rs, pods, api.store.clock.time())))


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


def _available(pod: JSON, min_ready: int, now: float) -> bool:
    """Ready for at least ``minReadySeconds`` (``podutil.IsPodAvailable``)."""
    if not pod_ready(pod):
        return False
    if min_ready <= 0:
        return True
    since = (get_condition(pod, "Ready") or {}).get("lastTransitionTime")
    return not since or parse_stamp(str(since)) + min_ready < now


def _status(rs: JSON, pods: list[JSON], now: float) -> JSON:
    ready = sum(1 for p in pods if pod_ready(p))
    min_ready = int(rs.get("spec", {}).get("minReadySeconds") or 0)
    status: JSON = {
        "replicas": len(pods),
        "fullyLabeledReplicas": len(pods),
        "readyReplicas": ready,
        "availableReplicas": sum(1 for p in pods if _available(p, min_ready, now)),
        "observedGeneration": rs["metadata"].get("generation", 1),
    }
    return {k: v for k, v in status.items() if v or k in ("replicas", "observedGeneration")}
