"""Deletion: preconditions, finalizers, propagation policies and the garbage collector.

A DELETE decides, as the API server's registry does, which of the garbage collector's
finalizers the object gets: ``foregroundDeletion`` for ``propagationPolicy=Foreground``,
``orphan`` for ``Orphan`` (or ``orphanDependents: true``, or no policy on a kind whose default
is to orphan: ``batch/v1`` Jobs, ``v1`` ReplicationControllers), none for ``Background`` (the
default of every other kind). An object with finalizers gets a ``deletionTimestamp`` and stays
until they are removed; otherwise it goes at once. Dependents (objects whose
``ownerReferences`` name the deleted uid) are never touched by the request itself: the
garbage collector (:func:`collect_garbage`, a simulated controller, so off with
``controllers=False``) acts after the request returned, :attr:`Store.gc_delay` later, as the
controller manager's collector does (kubernetes/pkg/controller/garbagecollector):

* Background: the owner is gone when the DELETE returns; its dependents are still there for
  a moment, then deleted (with the owner's uid as precondition). A dependent that still has
  another existing owner is kept, and only its references to absent owners are removed.
* Foreground: the owner stays, with ``deletionTimestamp`` and the ``foregroundDeletion``
  finalizer, while the collector deletes its dependents (those that have dependents
  themselves in the foreground too); the finalizer is removed, and the owner goes, once no
  dependent with ``blockOwnerDeletion: true`` remains.
* Orphan: the collector removes the owner's reference from each dependent, then the
  ``orphan`` finalizer.

An object created with an owner reference to an object that does not exist is collected
the same way. Namespaces go Terminating and are emptied by the namespace controller.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.resources import ResourceType
from qengine.testing.kube.status import ApiError, conflict, success_status
from qengine.testing.kube.store import Collection

JSON = dict[str, Any]
PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
POLICIES = ("Foreground", "Background", "Orphan")
# Kinds (group/version, kind) whose DELETE without a policy orphans, for compatibility.
_ORPHAN_BY_DEFAULT = {("batch/v1", "Job"), ("v1", "ReplicationController")}


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


def _invalid_options(message: str) -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: {message}',
        details={
            "group": "meta.k8s.io",
            "kind": "DeleteOptions",
            "causes": [
                {"reason": "FieldValueInvalid", "message": message, "field": "propagationPolicy"}
            ],
        },
    )


def _finalizers(rtype: ResourceType, obj: JSON, options: JSON) -> list[str]:
    """The object's finalizers once deleted with ``options`` (the registry's
    deletionFinalizersForGarbageCollection): its own, plus the collector's for the policy."""
    policy = options.get("propagationPolicy")
    orphan_flag = options.get("orphanDependents")
    if policy is not None and orphan_flag is not None:
        raise _invalid_options(
            f'Invalid value: "{policy}": orphanDependents and deletionPropagation cannot be '
            "both set"
        )
    if policy is not None and policy not in POLICIES:
        supported = ", ".join(f'"{p}"' for p in (*POLICIES, "nil"))
        raise _invalid_options(f'Unsupported value: "{policy}": supported values: {supported}')
    current = list(obj["metadata"].get("finalizers") or [])
    if orphan_flag is not None:
        orphan, foreground = bool(orphan_flag), False
    elif policy is not None:
        orphan, foreground = policy == "Orphan", policy == "Foreground"
    elif ORPHAN in current or FOREGROUND in current:
        orphan, foreground = ORPHAN in current, FOREGROUND in current
    else:
        orphan, foreground = (rtype.api_version, rtype.kind) in _ORPHAN_BY_DEFAULT, False
    kept = [f for f in current if f not in (ORPHAN, FOREGROUND)]
    wanted = kept + [ORPHAN] * orphan + [FOREGROUND] * foreground
    return current if set(wanted) == set(current) else wanted


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
    finalizers = _finalizers(rtype, obj, options)
    if dry_run:
        return obj
    if rtype.kind == "Namespace":
        return _terminate_namespace(api, rtype, obj)
    if rtype.kind == "Pod" and _graceful(api, obj, options):
        return _start_termination(api, rtype, obj, options)
    if finalizers:
        marked = _mark_deleting(api, rtype, obj, finalizers)
        if ORPHAN in finalizers or FOREGROUND in finalizers:
            meta = marked["metadata"]
            api.store.schedule_collection(meta["uid"], rtype.key, namespace, name)
        return marked
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


def _mark_deleting(api: ObjectApi, rtype: ResourceType, obj: JSON, finalizers: list[str]) -> JSON:
    if obj["metadata"].get("deletionTimestamp") and obj["metadata"].get("finalizers") == finalizers:
        return obj
    new = clone(obj)
    new["metadata"]["finalizers"] = finalizers
    new["metadata"].setdefault("deletionTimestamp", api.store.clock.stamp())
    new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
    return api.commit_raw(rtype, new)


def remove_now(api: ObjectApi, rtype: ResourceType, obj: JSON) -> JSON:
    """Remove ``obj`` now; the garbage collector takes care of its dependents later."""
    meta = obj["metadata"]
    final = api.store.remove(rtype, meta.get("namespace", ""), meta["name"]) or obj
    for hook in api.on_commit:
        hook(rtype, obj, final)
    return final


def dependents(api: ObjectApi, uid: str) -> list[tuple[ResourceType, JSON]]:
    """Every stored object with an ownerReference to ``uid``."""
    found = []
    for type_key, obj in api.store.owned_by(uid):
        rtype = api.store.types.preferred(*type_key)
        if rtype is not None:
            found.append((rtype, obj))
    return found


# -- the garbage collector ---------------------------------------------------------------------


def collect_garbage(api: ObjectApi) -> None:
    """One pass of the garbage collector over the owners queued in the store that are due
    (caller holds the store lock); an owner still deleting its dependents in the foreground
    is queued again for the next pass."""
    for uid, entry in api.store.due_collections():
        if not _process_owner(api, uid, entry):
            api.store.schedule_collection(
                uid, entry.type_key, entry.namespace, entry.name, delay=0.0
            )


def _process_owner(api: ObjectApi, uid: str, entry: Collection) -> bool:
    """Act for one owner; False while it waits for blocking dependents to go."""
    owner = api.store.find(entry.type_key, entry.namespace, entry.name)
    if owner is None or owner["metadata"].get("uid") != uid:
        for dep_type, dep in dependents(api, uid):
            _attempt_to_delete(api, dep_type, dep)
        return True
    meta = owner["metadata"]
    finalizers = meta.get("finalizers") or []
    rtype = api.store.types.preferred(*entry.type_key)
    if not meta.get("deletionTimestamp") or rtype is None:
        return True
    if ORPHAN in finalizers:
        _orphan_dependents(api, uid)
        _drop_finalizer(api, rtype, owner, ORPHAN)
        return True
    if FOREGROUND not in finalizers:
        return True
    for dep_type, dep in dependents(api, uid):
        _attempt_to_delete(api, dep_type, dep)
    if any(_blocks(dep, uid) for _, dep in dependents(api, uid)):
        return False
    current = api.store.find(entry.type_key, entry.namespace, entry.name)
    if current is not None:
        _drop_finalizer(api, rtype, current, FOREGROUND)
    return True


def _blocks(dep: JSON, uid: str) -> bool:
    refs = dep["metadata"].get("ownerReferences") or ()
    return any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in refs)


def _owner_state(api: ObjectApi, dep: JSON, ref: JSON) -> str:
    """``solid``, ``dangling`` or ``waiting`` (deleting its dependents in the foreground)."""
    owner_type = api.store.types.by_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
    if owner_type is None:
        return "solid"  # the collector cannot resolve the kind: it leaves the object alone
    namespace = dep["metadata"].get("namespace", "") if owner_type.namespaced else ""
    owner = api.store.find(owner_type.key, namespace, str(ref.get("name")))
    if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
        return "dangling"
    meta = owner["metadata"]
    if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or ()):
        return "waiting"
    return "solid"


def _attempt_to_delete(api: ObjectApi, rtype: ResourceType, dep: JSON) -> None:
    """The collector's attemptToDeleteItem for one dependent."""
    meta = dep["metadata"]
    if meta.get("deletionTimestamp"):
        return  # already being deleted
    refs = meta.get("ownerReferences") or []
    states = [_owner_state(api, dep, ref) for ref in refs]
    if not refs:
        return
    if "solid" in states:
        if "dangling" in states or "waiting" in states:
            new = clone(dep)
            new["metadata"]["ownerReferences"] = [
                ref for ref, state in zip(refs, states, strict=True) if state == "solid"
            ]
            api.commit_raw(rtype, new)
        return
    own = meta.get("finalizers") or ()
    if "waiting" in states and api.store.owned_by(meta["uid"]):
        policy = "Foreground"
    else:
        policy = "Orphan" if ORPHAN in own else "Foreground" if FOREGROUND in own else "Background"
    options = {"propagationPolicy": policy, "preconditions": {"uid": meta["uid"]}}
    delete(api, rtype, meta.get("namespace", ""), meta["name"], options, False)


def _orphan_dependents(api: ObjectApi, uid: str) -> None:
    for dep_type, dep in dependents(api, uid):
        new = clone(dep)
        refs = [r for r in new["metadata"]["ownerReferences"] if r.get("uid") != uid]
        new["metadata"]["ownerReferences"] = refs
        if not refs:
            del new["metadata"]["ownerReferences"]
        api.commit_raw(dep_type, new)


def _drop_finalizer(api: ObjectApi, rtype: ResourceType, obj: JSON, finalizer: str) -> None:
    """Remove one finalizer; an object left with none, being deleted, goes."""
    new = clone(obj)
    remaining = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
    if remaining:
        new["metadata"]["finalizers"] = remaining
        api.commit_raw(rtype, new)
        return
    new["metadata"].pop("finalizers", None)
    stored = api.commit_raw(rtype, new)
    remove_now(api, rtype, stored)


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
