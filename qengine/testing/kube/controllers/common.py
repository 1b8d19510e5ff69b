"""Helpers the simulated controllers share: ownership, conditions, pod readiness."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi, WriteOptions
from qengine.testing.kube.resources import ResourceType

JSON = dict[str, Any]
CONTROLLER = WriteOptions(manager="kube-controller-manager", track=False)
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def rtype(api: ObjectApi, group: str, plural: str) -> ResourceType:
    """The preferred type of a (group, plural); it is always served for built-ins."""
    found = api.store.types.preferred(group, plural)
    assert found is not None
    return found


def owner_ref(owner: JSON) -> JSON:
    """A controller ownerReference to ``owner``."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned(api: ObjectApi, owner: JSON, group: str, plural: str) -> list[JSON]:
    """Objects of (group, plural) controlled by ``owner``, by creation order then name."""
    found = [o for key, o in api.store.owned_by(owner["metadata"]["uid"]) if key == (group, plural)]
    return sorted(found, key=lambda o: (o["metadata"]["creationTimestamp"], o["metadata"]["name"]))


def short_hash(value: Any) -> str:
    """A stable, name-safe hash (like ``pod-template-hash``)."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def semantic(value: Any) -> Any:
    """A JSON value as compared semantically: nulls, empty maps and empty lists are absent
    (as ``apiequality.Semantic.DeepEqual`` treats nil and empty alike on decoded objects)."""
    if isinstance(value, dict):
        kept = {k: semantic(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [semantic(v) for v in value]
    return value


def random_suffix(api: ObjectApi) -> str:
    """Five name-safe characters, like generateName adds."""
    digest = hashlib.sha256(f"{api.store.new_uid()}".encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:5])


def set_condition(
    status: JSON, ctype: str, value: str, reason: str, message: str, now: str
) -> None:
    """Set a condition in ``status["conditions"]``, keeping times when nothing changed."""
    conditions = status.setdefault("conditions", [])
    for cond in conditions:
        if cond.get("type") != ctype:
            continue
        if cond.get("status") != value:
            cond["lastTransitionTime"] = now
        changed = (cond.get("status"), cond.get("reason"), cond.get("message")) != (
            value,
            reason,
            message,
        )
        if changed and "lastUpdateTime" in cond:
            cond["lastUpdateTime"] = now
        cond.update(status=value, reason=reason, message=message)
        return
    conditions.append(
        {
            "type": ctype,
            "status": value,
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


def get_condition(obj: JSON, ctype: str) -> JSON | None:
    """The condition of type ``ctype`` in ``obj.status``, or None."""
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def pod_ready(pod: JSON) -> bool:
    """Whether the pod's Ready condition is True."""
    cond = get_condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def pod_active(pod: JSON) -> bool:
    """Not terminating and not finished."""
    return not pod["metadata"].get("deletionTimestamp") and pod.get("status", {}).get(
        "phase"
    ) not in (
        "Succeeded",
        "Failed",
    )


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """Resolve an IntOrString like ``25%`` against ``total``."""
    if isinstance(value, str) and value.endswith("%"):
        exact = total * int(value[:-1]) / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def with_status(obj: JSON, status: JSON) -> JSON:
    """A copy of ``obj`` with ``status`` replaced."""
    new = copy.copy(obj)
    new["status"] = status
    new["metadata"] = clone(obj["metadata"])
    return new


def pod_from_template(owner: JSON, template: JSON, name: str, extra_labels: dict[str, str]) -> JSON:
    """A Pod built from a pod template, controlled by ``owner``."""
    meta = clone(template.get("metadata") or {})
    labels = dict(meta.get("labels") or {}, **extra_labels)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": owner["metadata"]["namespace"],
            "labels": labels,
            "annotations": meta.get("annotations") or {},
            "ownerReferences": [owner_ref(owner)],
        },
        "spec": clone(template.get("spec") or {}),
    }
