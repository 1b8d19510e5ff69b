"""What one controller pass looks at: every object, or only what changed since the last pass.

A change to an object also marks its owners (a pod's ReplicaSet and that ReplicaSet's
Deployment), so status flows up without rescanning every workload. Controllers add an
``unsettled`` predicate for objects that still have time-driven work (a rollout in progress,
a pod waiting to become Ready), which are revisited on every pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qengine.testing.kube.store import Change, Store

JSON = dict[str, Any]
TypeKey = tuple[str, str]
ObjKey = tuple[str, str]
_OWNER_DEPTH = 3


class Work:
    """The scope of a pass: ``everything`` or the dirty objects (and their owners)."""

    def __init__(self, store: Store, changes: list[Change] | None) -> None:
        self.store = store
        self.everything = changes is None
        self.dirty: dict[TypeKey, set[ObjKey]] = {}
        self.namespaces: set[str] = set()
        self.deleted_uids: set[str] = set()
        for change in changes or ():
            self._mark(change.type_key, change.obj, _OWNER_DEPTH)
            self.namespaces.add(change.obj["metadata"].get("namespace", ""))
            if change.type == "DELETED":
                self.deleted_uids.add(change.obj["metadata"].get("uid", ""))

    def _mark(self, type_key: TypeKey, obj: JSON, depth: int) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace", "")
        self.dirty.setdefault(type_key, set()).add((namespace, meta["name"]))
        if depth == 0:
            return
        for ref in meta.get("ownerReferences") or ():
            owner_type = self.store.types.by_kind(str(ref.get("apiVersion")), str(ref.get("kind")))
            if owner_type is None:
                continue
            owner_ns = namespace if owner_type.namespaced else ""
            owner = self.store.find(owner_type.key, owner_ns, str(ref.get("name")))
            if owner is not None:
                self._mark(owner_type.key, owner, depth - 1)

    def objects(
        self, type_key: TypeKey, unsettled: Callable[[JSON], bool] | None = None
    ) -> list[JSON]:
        """Objects of a type to reconcile in this pass."""
        if self.everything:
            return list(self.store.iter(type_key))
        keys = self.dirty.get(type_key, set())
        found = [o for k in sorted(keys) if (o := self.store.find(type_key, *k)) is not None]
        if unsettled is not None:
            found += [
                o
                for o in self.store.iter(type_key)
                if unsettled(o)
                and (o["metadata"].get("namespace", ""), o["metadata"]["name"]) not in keys
            ]
        return found

    def namespace_changed(self, namespace: str) -> bool:
        """Whether anything in ``namespace`` changed (always True for a full pass)."""
        return self.everything or namespace in self.namespaces
