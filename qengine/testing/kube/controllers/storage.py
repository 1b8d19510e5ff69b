"""Volume binding: every pending PersistentVolumeClaim gets a PersistentVolume and is Bound."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.controllers.common import CONTROLLER, rtype
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi

JSON = dict[str, Any]


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass over the pending claims (caller holds the store lock)."""
    pvc_type = rtype(api, "", "persistentvolumeclaims")
    for pvc in work.objects(pvc_type.key, lambda c: c.get("status", {}).get("phase") != "Bound"):
        if pvc.get("status", {}).get("phase") == "Bound" or pvc["metadata"].get(
            "deletionTimestamp"
        ):
            continue
        _bind(api, pvc)


def _bind(api: ObjectApi, pvc: JSON) -> None:
    meta, spec = pvc["metadata"], pvc.get("spec", {})
    volume = f"pvc-{meta['uid']}"
    storage = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
    modes = spec.get("accessModes") or ["ReadWriteOnce"]
    storage_class = spec.get("storageClassName") or "standard"
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": volume,
            "annotations": {"pv.kubernetes.io/provisioned-by": "sim.qengine.dev/hostpath"},
        },
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": modes,
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": storage_class,
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "hostPath": {"path": f"/var/lib/sim-volumes/{volume}", "type": ""},
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": "v1",
            },
        },
    }
    pv_type = rtype(api, "", "persistentvolumes")
    if api.store.find(pv_type.key, "", volume) is None:
        created = api.create(pv_type, "", pv, CONTROLLER)
        bound = clone(created)
        bound["status"] = {"phase": "Bound"}
        api.commit_raw(pv_type, bound)
    new = clone(pvc)
    new["spec"]["volumeName"] = volume
    new["spec"].setdefault("storageClassName", storage_class)
    new["spec"].setdefault("volumeMode", "Filesystem")
    annotations = new["metadata"].setdefault("annotations", {})
    annotations["pv.kubernetes.io/bind-completed"] = "yes"
    annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
    new["status"] = {"phase": "Bound", "accessModes": modes, "capacity": {"storage": storage}}
    api.commit_raw(rtype(api, "", "persistentvolumeclaims"), new)
    recorder.record(
        api,
        pvc,
        "Normal",
        "ProvisioningSucceeded",
        f"Successfully provisioned volume {volume}",
        "sim.qengine.dev/hostpath",
    )
