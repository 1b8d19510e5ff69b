"""Server-side ``Table`` rendering, which ``kubectl get`` asks for by default.

A few kinds get the columns kubectl users expect (pods, deployments, replica sets, services,
jobs, namespaces, events); every other kind gets NAME and AGE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qengine.testing.kube.clock import parse_stamp

JSON = dict[str, Any]
Column = tuple[str, str, Callable[[JSON], Any]]
_WIDE = {"IP", "Node", "Containers", "Images", "Selector"}


def _age(now: float) -> Callable[[JSON], str]:
    def render(obj: JSON) -> str:
        stamp = obj["metadata"].get("creationTimestamp")
        if not stamp:
            return "<unknown>"
        secs = max(0, int(now - parse_stamp(stamp)))
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if secs >= size:
                return f"{secs // size}{unit}"
        return f"{secs}s"

    return render


def _pod_ready(obj: JSON) -> str:
    statuses = obj.get("status", {}).get("containerStatuses") or []
    total = len(obj.get("spec", {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _init_status(obj: JSON) -> str:
    """``Init:<reason>`` or ``Init:i/n`` while init containers run (kubectl's printPod)."""
    inits = obj.get("status", {}).get("initContainerStatuses") or []
    for index, status in enumerate(inits):
        terminated = status.get("state", {}).get("terminated")
        waiting = status.get("state", {}).get("waiting") or {}
        if terminated and terminated.get("exitCode") == 0:
            continue
        if terminated:
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}"
            return f"Init:{reason}"
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            return f"Init:{waiting['reason']}"
        return f"Init:{index}/{len(obj.get('spec', {}).get('initContainers') or [])}"
    return ""


def _pod_status(obj: JSON) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    initializing = _init_status(obj)
    if initializing:
        return initializing
    for status in obj.get("status", {}).get("containerStatuses") or []:
        waiting = status.get("state", {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
        terminated = status.get("state", {}).get("terminated")
        if terminated and terminated.get("reason"):
            return str(terminated["reason"])
    return str(obj.get("status", {}).get("phase", "Pending"))


def _restarts(obj: JSON) -> int:
    key = "initContainerStatuses" if _init_status(obj) else "containerStatuses"
    return sum(s.get("restartCount", 0) for s in obj.get("status", {}).get(key) or [])


def _status(field: str, default: Any = 0) -> Callable[[JSON], Any]:
    return lambda obj: obj.get("status", {}).get(field, default)


def _ratio(ready: str, want: Callable[[JSON], Any]) -> Callable[[JSON], str]:
    return lambda obj: f"{obj.get('status', {}).get(ready, 0)}/{want(obj)}"


def _replicas(obj: JSON) -> Any:
    return obj.get("spec", {}).get("replicas", 0)


def _ports(obj: JSON) -> str:
    ports = obj.get("spec", {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _columns(kind: str) -> list[Column]:
    replicas, ports = _replicas, _ports
    table: dict[str, list[Column]] = {
        "Pod": [
            ("Ready", "string", _pod_ready),
            ("Status", "string", _pod_status),
            ("Restarts", "integer", _restarts),
            ("IP", "string", lambda o: o.get("status", {}).get("podIP", "<none>")),
            ("Node", "string", lambda o: o.get("spec", {}).get("nodeName", "<none>")),
        ],
        "Deployment": [
            ("Ready", "string", _ratio("readyReplicas", replicas)),
            ("Up-to-date", "integer", _status("updatedReplicas")),
            ("Available", "integer", _status("availableReplicas")),
        ],
        "ReplicaSet": [
            ("Desired", "integer", replicas),
            ("Current", "integer", _status("replicas")),
            ("Ready", "integer", _status("readyReplicas")),
        ],
        "StatefulSet": [("Ready", "string", _ratio("readyReplicas", replicas))],
        "Service": [
            ("Type", "string", lambda o: o.get("spec", {}).get("type", "")),
            ("Cluster-IP", "string", lambda o: o.get("spec", {}).get("clusterIP", "<none>")),
            ("Port(s)", "string", ports),
        ],
        "Namespace": [("Status", "string", _status("phase", ""))],
        "Job": [
            ("Status", "string", _job_status),
            (
                "Completions",
                "string",
                lambda o: f"{_status('succeeded')(o)}/{o.get('spec', {}).get('completions', 1)}",
            ),
        ],
        "PersistentVolumeClaim": [
            ("Status", "string", _status("phase", "")),
            ("Volume", "string", lambda o: o.get("spec", {}).get("volumeName", "")),
        ],
        "ConfigMap": [("Data", "integer", _data_count)],
        "Secret": [
            ("Type", "string", lambda o: o.get("type", "")),
            ("Data", "integer", _data_count),
        ],
        "Node": [
            ("Status", "string", lambda o: "Ready"),
            ("Roles", "string", lambda o: "<none>"),
            (
                "Version",
                "string",
                lambda o: o.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", ""),
            ),
        ],
        "Event": [
            ("Type", "string", lambda o: o.get("type", "")),
            ("Reason", "string", lambda o: o.get("reason", "")),
            ("Object", "string", _involved),
            ("Message", "string", lambda o: o.get("message", "")),
        ],
    }
    return table.get(kind, [])


def _data_count(obj: JSON) -> int:
    return len(obj.get("data") or {}) + len(obj.get("binaryData") or {})


def _involved(obj: JSON) -> str:
    ref = obj.get("involvedObject") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _job_status(obj: JSON) -> str:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return str(cond["type"])
    return "Running"


def _row_object(obj: JSON, include: str) -> JSON | None:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }


def to_table(kind: str, items: list[JSON], list_meta: JSON, now: float, include: str) -> JSON:
    """A ``meta.k8s.io/v1`` Table of ``items``."""
    columns: list[Column] = [("Name", "string", lambda o: o["metadata"]["name"])]
    extra = _columns(kind)
    columns += [c for c in extra if c[0] not in _WIDE]
    columns.append(("Age", "string", _age(now)))
    columns += [c for c in extra if c[0] in _WIDE]
    definitions = [
        {
            "name": name,
            "type": kind_,
            "format": "name" if name == "Name" else "",
            "description": name,
            "priority": 1 if name in _WIDE else 0,
        }
        for name, kind_, _ in columns
    ]
    rows = []
    for obj in items:
        row: JSON = {"cells": [render(obj) for _, _, render in columns]}
        embedded = _row_object(obj, include)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": definitions,
        "rows": rows,
    }
