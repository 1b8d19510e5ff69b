"""CustomResourceDefinitions: serving the custom resources of a CRD once it is stored."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import deletion
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.resources import ResourceType, crd_types

JSON = dict[str, Any]


def _status(crd: JSON, now: str) -> JSON:
    spec = crd.get("spec", {})
    conditions = [
        {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
        for t, r, m in (
            ("NamesAccepted", "NoConflicts", "no conflicts found for the names"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
    return {
        "acceptedNames": spec.get("names", {}),
        "conditions": conditions,
        "storedVersions": stored,
    }


def on_commit(api: ObjectApi, rtype: ResourceType, old: JSON | None, new: JSON) -> None:
    """Commit hook: register, update or withdraw a CRD's custom resource types."""
    if rtype.kind != "CustomResourceDefinition":
        return
    name = new["metadata"]["name"]
    current = api.store.find(rtype.key, "", name)
    spec = new.get("spec", {})
    group, plural = str(spec.get("group", "")), str(spec.get("names", {}).get("plural", ""))
    if current is None:
        _withdraw(api, group, plural)
        return
    for crtype in crd_types(current):
        api.store.types.add(crtype)
    if not current.get("status", {}).get("conditions"):
        established = clone(current)
        established["status"] = _status(current, api.store.clock.stamp())
        api.commit_raw(rtype, established)


def _withdraw(api: ObjectApi, group: str, plural: str) -> None:
    crtype = api.store.types.preferred(group, plural)
    if crtype is not None:
        for obj in list(api.store.iter(crtype.key)):
            deletion.remove_now(api, crtype, obj)
    api.store.types.remove(group, plural)
