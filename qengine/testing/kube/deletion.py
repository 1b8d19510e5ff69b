"""Deletion: preconditions, finalizers, propagation policies and garbage collection.

An object with finalizers (or deleted with ``propagationPolicy=Foreground``) gets a
``deletionTimestamp`` and stays until its finalizers are removed; otherwise it goes at once.
Dependents (objects whose ``ownerReferences`` name the deleted uid) are deleted with it
(Background, the default; done synchronously here), before it (Foreground), or released
(Orphan: their owner reference is removed). Namespaces go Terminating and are emptied by the
namespace controller.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import ApiError, conflict, success_status

JSON = dict[str, Any]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def _check_preconditions(rtype: ResourceType, obj: JSON, options: JSON) -> None:
    pre = options.get("preconditions") or {}
    meta = obj["metadata"]
    name = meta["name"]
    if pre.get("uid") and pre["uid"] != meta["uid"]:
        raise conflict(
            rtype.plural,
            rtype.group,
            name,
            f"Precondition failed: UID in precondition: {pre['uid']}, "
            f"UID in object meta: {meta['uid']}",
        )
    if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
        raise conflict(
            rtype.plural,
            rtype.group,
            name,
            f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
            f"ResourceVersion in object meta: {meta['resourceVersion']}",
        )


def _details(rtype: ResourceType, obj: JSON) -> JSON:
    details: JSON = {"name": obj["metadata"]["name"], "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    details["uid"] = obj["metadata"]["uid"]
    return details


def delete(
    api: ObjectApi, rtype: ResourceType, namespace: str, name: str, options: JSON, dry_run: bool
) -> JSON:
    """DELETE of one object; returns the response body (the object or a Success Status)."""
    obj = api.store.get(rtype, namespace, name)
    _check_preconditions(rtype, obj, options)
    policy = options.get("propagationPolicy") or (
        "Orphan" if options.get("orphanDependents") else "Background"
    )
    if policy not in ("Foreground", "Background", "Orphan"):
        raise ApiError(422, "Invalid", f"propagationPolicy: Unsupported value: {policy!r}")
    if dry_run:
        return obj
    if rtype.kind == "Namespace":
        return _terminate_namespace(api, rtype, obj)
    if rtype.kind == "Pod" and _graceful(api, obj, options):
        return _start_termination(api, rtype, obj, options)
    extra = {"Foreground": FOREGROUND, "Orphan": ORPHAN}.get(policy)
    finalizers = list(obj["metadata"].get("finalizers") or [])
    if extra and extra not in finalizers and _has_dependents(api, obj):
        finalizers.append(extra)
    if finalizers:
        marked = _mark_deleting(api, rtype, obj, finalizers)
        run_finalizers(api, rtype, marked)
        return api.store.find(rtype.key, namespace, name) or _gone_body(rtype, marked)
    final = remove_now(api, rtype, obj)
    return final if rtype.kind == "Pod" else success_status(_details(rtype, obj))


def _graceful(api: ObjectApi, pod: JSON, options: JSON) -> bool:
    """Whether a pod goes through Terminating: only with a simulated kubelet to end it."""
    return api.pod_termination_delay > 0 and options.get("gracePeriodSeconds") != 0


def start_pod_termination(api: ObjectApi, pod: JSON) -> JSON:
    """Mark a pod Terminating (the simulated kubelet removes it after the delay)."""
    rtype = api.store.types.preferred("", "pods")
    assert rtype is not None
    return _start_termination(api, rtype, pod, {})


def _start_termination(api: ObjectApi, rtype: ResourceType, pod: JSON, options: JSON) -> JSON:
    if pod["metadata"].get("deletionTimestamp"):
        return pod
    grace = options.get("gracePeriodSeconds")
    if grace is None:
        grace = pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)
    new = clone(pod)
    new["metadata"]["deletionTimestamp"] = api.store.clock.stamp()
    new["metadata"]["deletionGracePeriodSeconds"] = int(grace)
    return api.commit_raw(rtype, new)


def _gone_body(rtype: ResourceType, obj: JSON) -> JSON:
    return obj if rtype.kind == "Pod" else success_status(_details(rtype, obj))


def _mark_deleting(api: ObjectApi, rtype: ResourceType, obj: JSON, finalizers: list[str]) -> JSON:
    if obj["metadata"].get("deletionTimestamp") and obj["metadata"].get("finalizers") == finalizers:
        return obj
    new = clone(obj)
    new["metadata"]["finalizers"] = finalizers
    new["metadata"].setdefault("deletionTimestamp", api.store.clock.stamp())
    new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
    return api.commit_raw(rtype, new)


def remove_now(api: ObjectApi, rtype: ResourceType, obj: JSON) -> JSON:
    """Remove ``obj`` now and garbage-collect its dependents (background propagation)."""
    meta = obj["metadata"]
    final = api.store.remove(rtype, meta.get("namespace", ""), meta["name"]) or obj
    for hook in api.on_commit:
        hook(rtype, obj, final)
    for dep_type, dep in dependents(api, meta["uid"]):
        if not dep["metadata"].get("deletionTimestamp"):
            delete(
                api,
                dep_type,
                dep["metadata"].get("namespace", ""),
                dep["metadata"]["name"],
                {},
                False,
            )
    return final


def run_finalizers(api: ObjectApi, rtype: ResourceType, obj: JSON) -> None:
    """Do the garbage collector's part for the ``foregroundDeletion`` and ``orphan`` finalizers."""
    finalizers = list(obj["metadata"].get("finalizers") or [])
    uid = obj["metadata"]["uid"]
    if ORPHAN in finalizers:
        for dep_type, dep in dependents(api, uid):
            new = clone(dep)
            refs = [r for r in new["metadata"]["ownerReferences"] if r.get("uid") != uid]
            new["metadata"]["ownerReferences"] = refs
            if not refs:
                del new["metadata"]["ownerReferences"]
            api.commit_raw(dep_type, new)
        finalizers.remove(ORPHAN)
    if FOREGROUND in finalizers:
        for dep_type, dep in dependents(api, uid):
            meta = dep["metadata"]
            delete(
                api,
                dep_type,
                meta.get("namespace", ""),
                meta["name"],
                {"propagationPolicy": "Foreground"},
                False,
            )
        if dependents(api, uid):
            return
        finalizers.remove(FOREGROUND)
    current = api.store.find(
        rtype.key, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
    )
    if current is None or current["metadata"].get("finalizers") == finalizers:
        return
    new = clone(current)
    new["metadata"]["finalizers"] = finalizers
    if not finalizers:
        del new["metadata"]["finalizers"]
        api.store.commit(rtype, new, api.store.record(rtype.key, *_key(new)).ownership, "MODIFIED")  # type: ignore[union-attr]
        remove_now(api, rtype, new)
    else:
        api.commit_raw(rtype, new)


def _key(obj: JSON) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def dependents(api: ObjectApi, uid: str) -> list[tuple[ResourceType, JSON]]:
    """Every stored object with an ownerReference to ``uid``."""
    found = []
    for type_key, obj in api.store.owned_by(uid):
        rtype = api.store.types.preferred(*type_key)
        if rtype is not None:
            found.append((rtype, obj))
    return found


def _has_dependents(api: ObjectApi, obj: JSON) -> bool:
    return bool(dependents(api, obj["metadata"]["uid"]))


def _terminate_namespace(api: ObjectApi, rtype: ResourceType, obj: JSON) -> JSON:
    name = obj["metadata"]["name"]
    if name in PROTECTED_NAMESPACES:
        raise ApiError(
            403,
            "Forbidden",
            f'namespaces "{name}" is forbidden: this namespace may not be deleted',
            details={"name": name, "kind": "namespaces"},
        )
    if obj["metadata"].get("deletionTimestamp"):
        return obj
    new = clone(obj)
    new["metadata"]["deletionTimestamp"] = api.store.clock.stamp()
    new["metadata"]["deletionGracePeriodSeconds"] = 0
    new["status"] = {"phase": "Terminating"}
    return api.commit_raw(rtype, new)


def delete_collection(
    api: ObjectApi, rtype: ResourceType, items: list[JSON], options: JSON, dry_run: bool
) -> JSON:
    """DELETE on a collection: each matching object, as a single delete would."""
    for obj in items:
        meta = obj["metadata"]
        if api.store.find(rtype.key, meta.get("namespace", ""), meta["name"]) is not None:
            delete(api, rtype, meta.get("namespace", ""), meta["name"], options, dry_run)
    return success_status()
