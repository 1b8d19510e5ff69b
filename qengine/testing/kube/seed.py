"""What a fresh simulated cluster contains: the usual namespaces, one Ready node, a default
storage class and ingress class, a ``default`` service account in each namespace."""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.objects import ObjectApi, WriteOptions
from qengine.testing.kube.store import DEFAULT_NAMESPACES

JSON = dict[str, Any]
NODE_NAME = "sim-node-1"
_SYSTEM = WriteOptions(manager="kube-apiserver", track=False)


def _node() -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE_NAME,
            "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux"},
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": "10.0.0.10"},
                {"type": "Hostname", "address": NODE_NAME},
            ],
            "nodeInfo": {
                "machineID": "00000000000000000000000000000001",
                "systemUUID": "00000000-0000-0000-0000-000000000001",
                "bootID": "00000000-0000-0000-0000-000000000002",
                "kernelVersion": "6.1.0-simulated",
                "osImage": "qengine simulated node",
                "containerRuntimeVersion": "simulated://1.0",
                "kubeletVersion": "v1.31.0",
                "kubeProxyVersion": "v1.31.0",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _lease(now: str) -> JSON:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": NODE_NAME},
        "spec": {
            "holderIdentity": NODE_NAME,
            "leaseDurationSeconds": 40,
            "renewTime": now.replace("Z", ".000000Z"),
        },
    }


def _storage_class() -> JSON:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "standard",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "sim.qengine.dev/hostpath",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def _ingress_class() -> JSON:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": "nginx",
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


def seed(api: ObjectApi) -> None:
    """Create the initial objects (caller holds the store lock)."""
    types = api.store.types
    for name in DEFAULT_NAMESPACES:
        ns_type = types.preferred("", "namespaces")
        assert ns_type is not None
        api.create(
            ns_type,
            "",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
            _SYSTEM,
        )
    node = _node()
    now = api.store.clock.stamp()
    for condition in node["status"]["conditions"]:
        condition.update(lastHeartbeatTime=now, lastTransitionTime=now)
    for obj in (node, _storage_class(), _ingress_class()):
        rtype = types.by_kind(obj["apiVersion"], obj["kind"])
        assert rtype is not None
        api.create(rtype, "", obj, _SYSTEM)
    lease_type = types.preferred("coordination.k8s.io", "leases")
    assert lease_type is not None
    api.create(lease_type, "kube-node-lease", _lease(now), _SYSTEM)
