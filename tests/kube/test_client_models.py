"""The official client's (pydantic) models accept everything the simulator serves.

kubernetes 37.x validates responses strictly; a missing required field or a null where a
string is required fails here, as it would for the engine's Kubernetes plugin.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from qengine.testing.kube import KubeSimulator

from .test_controllers import eventually


def _deployment(name: str, fault: str | None) -> dict[str, Any]:
    annotations = {"sim.qengine.dev/fault": fault} if fault else {}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]},
            },
        },
    }


T = TypeVar("T")


def _model(cls: type[T], body: dict[str, Any]) -> T:
    """A client model built (and validated) from a plain manifest."""
    built = cls.from_dict(body)  # type: ignore[attr-defined]
    assert built is not None
    return cast(T, built)


def _populate(sim: KubeSimulator, api_client: Any) -> None:
    from kubernetes import client

    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    faults = [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "OOMKilled",
        "Unschedulable",
        "ReadinessFailure",
    ]
    for fault in [None, *faults]:
        body = _deployment((fault or "fine").lower(), fault)
        apps.create_namespaced_deployment("default", _model(client.V1Deployment, body))
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "fine"}, "ports": [{"port": 80}]},
    }
    core.create_namespaced_service("default", _model(client.V1Service, service))
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "p"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    core.create_namespaced_persistent_volume_claim(
        "default", _model(client.V1PersistentVolumeClaim, claim)
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox:1"}],
                }
            }
        },
    }
    client.BatchV1Api(api_client).create_namespaced_job("default", _model(client.V1Job, job))
    eventually(lambda: len(sim.objects("pods", "default")) >= 7)
    eventually(
        lambda: any(p["status"].get("phase") == "Succeeded" for p in sim.objects("pods", "default"))
    )


def test_models_accept_what_the_controllers_write(sim: KubeSimulator, k8s: Any) -> None:
    from kubernetes import client

    _populate(sim, k8s)
    core, apps, batch = client.CoreV1Api(k8s), client.AppsV1Api(k8s), client.BatchV1Api(k8s)
    discovery, storage = client.DiscoveryV1Api(k8s), client.StorageV1Api(k8s)
    namespaced: list[Any] = [
        core.list_namespaced_pod,
        core.list_namespaced_event,
        core.list_namespaced_service,
        core.list_namespaced_endpoints,
        core.list_namespaced_persistent_volume_claim,
        core.list_namespaced_config_map,
        core.list_namespaced_service_account,
        apps.list_namespaced_deployment,
        apps.list_namespaced_replica_set,
        batch.list_namespaced_job,
        discovery.list_namespaced_endpoint_slice,
    ]
    counts = {fn.__name__: len(fn("default").items) for fn in namespaced}
    assert counts["list_namespaced_pod"] >= 7
    assert counts["list_namespaced_deployment"] == 6
    assert counts["list_namespaced_event"] > 10
    cluster: list[Any] = [
        core.list_node,
        core.list_namespace,
        core.list_persistent_volume,
        storage.list_storage_class,
    ]
    assert all(len(fn().items) >= 1 for fn in cluster)
    status = apps.read_namespaced_deployment_status("fine", "default")
    assert status.metadata is not None
    assert status.metadata.name == "fine"
