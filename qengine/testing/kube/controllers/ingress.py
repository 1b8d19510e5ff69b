"""Ingresses get a load-balancer address, as an ingress controller would publish it;
DaemonSets run one pod on the single simulated node."""

from __future__ import annotations

from typing import Any

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
from qengine.testing.kube.controllers.services import LB_ADDRESS
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.seed import NODE_NAME

JSON = dict[str, Any]


def reconcile_ingresses(api: ObjectApi, work: Work) -> None:
    """Give every Ingress without one a load-balancer address."""
    ing_type = rtype(api, "networking.k8s.io", "ingresses")
    for ing in work.objects(ing_type.key, lambda o: True):
        if ing.get("status", {}).get("loadBalancer", {}).get("ingress"):
            continue
        new = clone(ing)
        new["status"] = {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS}]}}
        api.commit_raw(ing_type, new)


def reconcile_daemonsets(api: ObjectApi, work: Work) -> None:
    """Keep one pod per DaemonSet (there is one node) and report its status."""
    ds_type = rtype(api, "apps", "daemonsets")
    for ds in work.objects(ds_type.key, lambda o: not o.get("status", {}).get("numberReady")):
        if ds["metadata"].get("deletionTimestamp"):
            continue
        pods = [p for p in owned(api, ds, "", "pods") if pod_active(p)]
        if not pods:
            name = f"{ds['metadata']['name']}-{random_suffix(api)}"
            pod = pod_from_template(ds, ds["spec"].get("template") or {}, name, {})
            pod["spec"]["nodeName"] = NODE_NAME
            api.create(rtype(api, "", "pods"), ds["metadata"]["namespace"], pod, CONTROLLER)
            pods = [p for p in owned(api, ds, "", "pods") if pod_active(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        status = {
            "currentNumberScheduled": len(pods),
            "desiredNumberScheduled": 1,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": len(pods),
            "observedGeneration": ds["metadata"].get("generation", 1),
        }
        if not ready:
            status["numberUnavailable"] = 1
            del status["numberAvailable"]
        api.commit_raw(ds_type, with_status(ds, status))
