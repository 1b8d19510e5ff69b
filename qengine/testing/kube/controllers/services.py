"""Services: an EndpointSlice (and the legacy Endpoints) listing the ready pods a Service
selects, and a load-balancer address for ``type: LoadBalancer``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qengine.testing.kube.controllers.common import CONTROLLER, owner_ref, pod_ready, rtype
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.selectors import match_labels

JSON = dict[str, Any]
LB_ADDRESS = "192.0.2.10"


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the Services of namespaces where something changed."""
    by_ns: dict[str, dict[tuple[str, str], list[JSON]]] = {}
    services = [
        s
        for s in api.store.iter(rtype(api, "", "services").key)
        if work.namespace_changed(s["metadata"]["namespace"])
    ]
    for namespace in {s["metadata"]["namespace"] for s in services}:
        by_ns[namespace] = _label_index(api.store.iter(rtype(api, "", "pods").key, namespace))
    for svc in services:
        if svc["metadata"].get("deletionTimestamp"):
            continue
        _load_balancer(api, svc)
        selector = svc.get("spec", {}).get("selector")
        if not selector:
            continue
        # Only the pods carrying the selector's first label can match: a pass stays linear
        # in the pods rather than services x pods (500 services made it the bottleneck).
        first = next(iter(selector.items()))
        candidates = by_ns.get(svc["metadata"]["namespace"], {}).get(first, [])
        pods = [
            p
            for p in candidates
            if match_labels({"matchLabels": selector}, p["metadata"].get("labels") or {})
        ]
        _slice(api, svc, pods)
        _endpoints(api, svc, pods)


def _label_index(pods: Iterable[JSON]) -> dict[tuple[str, str], list[JSON]]:
    """The pods that have an IP, by each (label, value) they carry, in their order."""
    index: dict[tuple[str, str], list[JSON]] = {}
    for pod in pods:
        if not pod.get("status", {}).get("podIP"):
            continue
        for label, value in (pod["metadata"].get("labels") or {}).items():
            index.setdefault((label, value), []).append(pod)
    return index


def _load_balancer(api: ObjectApi, svc: JSON) -> None:
    if svc.get("spec", {}).get("type") != "LoadBalancer":
        return
    if svc.get("status", {}).get("loadBalancer", {}).get("ingress"):
        return
    new = clone(svc)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": LB_ADDRESS, "ipMode": "VIP"}]}}
    api.commit_raw(rtype(api, "", "services"), new)


def _target_port(port: JSON, pod: JSON) -> int:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    for container in pod.get("spec", {}).get("containers") or []:
        for cport in container.get("ports") or []:
            if cport.get("name") == target:
                return int(cport["containerPort"])
    return int(port.get("port", 0))


def _ports(svc: JSON, pods: list[JSON]) -> list[JSON]:
    out = []
    for port in svc["spec"].get("ports") or []:
        number = _target_port(port, pods[0]) if pods else port.get("targetPort", port.get("port"))
        if not isinstance(number, int):
            continue  # a named targetPort has no number until a pod names it (int32 field)
        entry = {
            "name": port.get("name", ""),
            "port": number,
            "protocol": port.get("protocol", "TCP"),
        }
        out.append(entry)
    return out


def _upsert(api: ObjectApi, group: str, plural: str, desired: JSON) -> None:
    kind = rtype(api, group, plural)
    meta = desired["metadata"]
    current = api.store.find(kind.key, meta["namespace"], meta["name"])
    if current is None:
        api.create(kind, meta["namespace"], desired, CONTROLLER)
        return
    new = clone(current)
    for field, value in desired.items():
        if field != "metadata":
            new[field] = value
    new["metadata"]["labels"] = meta.get("labels", {})
    api.commit_raw(kind, new)


def _conditions(pod: JSON) -> JSON:
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    serving = pod_ready(pod)
    return {"ready": serving and not terminating, "serving": serving, "terminating": terminating}


def _slice(api: ObjectApi, svc: JSON, pods: list[JSON]) -> None:
    name = svc["metadata"]["name"]
    endpoints = [
        {
            "addresses": [p["status"]["podIP"]],
            "conditions": _conditions(p),
            "nodeName": p.get("spec", {}).get("nodeName", ""),
            "targetRef": {
                "kind": "Pod",
                "namespace": p["metadata"]["namespace"],
                "name": p["metadata"]["name"],
                "uid": p["metadata"]["uid"],
            },
        }
        for p in sorted(pods, key=lambda p: p["metadata"]["name"])
    ]
    desired = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-sim",
            "namespace": svc["metadata"]["namespace"],
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
            "ownerReferences": [owner_ref(svc)],
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": _ports(svc, pods),
    }
    _upsert(api, "discovery.k8s.io", "endpointslices", desired)


def _address(pod: JSON) -> JSON:
    meta = pod["metadata"]
    ref = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}
    return {
        "ip": pod["status"]["podIP"],
        "nodeName": pod.get("spec", {}).get("nodeName", ""),
        "targetRef": ref,
    }


def _endpoints(api: ObjectApi, svc: JSON, pods: list[JSON]) -> None:
    ready = [p for p in pods if _conditions(p)["ready"]]
    not_ready = [p for p in pods if not _conditions(p)["ready"]]
    subset: JSON = {"ports": _ports(svc, pods)}
    if ready:
        subset["addresses"] = [_address(p) for p in ready]
    if not_ready:
        subset["notReadyAddresses"] = [_address(p) for p in not_ready]
    desired = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": svc["metadata"]["name"],
            "namespace": svc["metadata"]["namespace"],
            "labels": dict(svc["metadata"].get("labels") or {}),
        },
        "subsets": [subset] if pods else [],
    }
    _upsert(api, "", "endpoints", desired)
