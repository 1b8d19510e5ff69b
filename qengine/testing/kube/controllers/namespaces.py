"""Namespaces: a ``default`` ServiceAccount and ``kube-root-ca.crt`` in each active namespace;
a Terminating namespace has its contents deleted, then goes."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.controllers.common import CONTROLLER, rtype
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]


def reconcile(api: ObjectApi, work: Work, ca_pem: str) -> None:
    """One pass over changed and terminating namespaces (caller holds the store lock)."""
    ns_type = rtype(api, "", "namespaces")
    for ns in work.objects(ns_type.key, lambda n: bool(n["metadata"].get("deletionTimestamp"))):
        if ns["metadata"].get("deletionTimestamp"):
            _finalize(api, ns)
        else:
            _populate(api, ns["metadata"]["name"], ca_pem)


def _populate(api: ObjectApi, namespace: str, ca_pem: str) -> None:
    sa_type, cm_type = rtype(api, "", "serviceaccounts"), rtype(api, "", "configmaps")
    if api.store.find(sa_type.key, namespace, "default") is None:
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
        api.create(sa_type, namespace, sa, CONTROLLER)
    if api.store.find(cm_type.key, namespace, "kube-root-ca.crt") is None:
        cm = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt"},
            "data": {"ca.crt": ca_pem},
        }
        api.create(cm_type, namespace, cm, CONTROLLER)


def _finalize(api: ObjectApi, ns: JSON) -> None:
    name = ns["metadata"]["name"]
    for rtype_ in api.store.types.all():
        if not rtype_.namespaced or api.store.types.preferred(*rtype_.key) is not rtype_:
            continue
        for obj in list(api.store.iter(rtype_.key, name)):
            if obj["metadata"].get("finalizers"):
                continue
            remove_now(api, rtype_, obj)
    remaining = sum(
        1 for t in api.store.types.all() if t.namespaced for _ in api.store.iter(t.key, name)
    )
    ns_type = rtype(api, "", "namespaces")
    if remaining:
        return
    current = api.store.find(ns_type.key, "", name)
    if current is None:
        return
    new = clone(current)
    new["spec"] = {"finalizers": []}
    api.commit_raw(ns_type, new)
    remove_now(api, ns_type, new)
