"""The same scenarios through the real kubectl and the official client.

They run against the simulator, and also against a real cluster when
``QENGINE_TEST_KUBECONFIG`` names a kubeconfig (marker ``real_cluster``, opt-in), so whoever
has a cluster can check the simulator against the real thing. Each scenario works in a
namespace of its own, removed afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl

IMAGE = "registry.k8s.io/pause:3.9"
IMAGE_2 = "registry.k8s.io/pause:3.10"


@attrs.frozen
class Cluster:
    kubectl: Kubectl
    namespace: str
    sim: KubeSimulator | None


@pytest.fixture(
    params=[
        pytest.param("sim", id="sim"),
        pytest.param("real", id="real", marks=pytest.mark.real_cluster),
    ]
)
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    assert shutil.which("kubectl"), "kubectl is not on the PATH; the machine image provides it"
    if request.param == "real":
        configured = os.environ.get("QENGINE_TEST_KUBECONFIG")
        if not configured:
            pytest.skip("opt-in tier: set QENGINE_TEST_KUBECONFIG to run against a real cluster")
        # A real cluster's kubeconfig may call credential plugins that read the user's
        # environment and home directory, so kubectl gets them unchanged here.
        kubectl = Kubectl(Path(configured), tmp_path / "home", env=dict(os.environ))
        yield from _with_namespace(kubectl, None)
        return
    with KubeSimulator(readiness_delay=0.2) as sim:
        yield from _with_namespace(Kubectl(sim.kubeconfig_path, tmp_path / "home"), sim)
        assert sim.controller_errors == []


def _with_namespace(kubectl: Kubectl, sim: KubeSimulator | None) -> Iterator[Cluster]:
    namespace = f"qengine-test-{secrets.token_hex(4)}"
    kubectl.run("create", "namespace", namespace)
    try:
        yield Cluster(kubectl=kubectl, namespace=namespace, sim=sim)
    finally:
        kubectl.run("delete", "namespace", namespace, "--wait=false", check=False)


def manifest(name: str, image: str = IMAGE, replicas: int = 2) -> str:
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                },
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "containers": [
                            {"name": "main", "image": image, "ports": [{"containerPort": 8080}]}
                        ]
                    },
                },
            },
        }
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"m-{secrets.token_hex(3)}.json"
    path.write_text(text)
    return path


def test_kubectl_server_side_apply_rollout_and_wait(cluster: Cluster, tmp_path: Path) -> None:
    k, ns = cluster.kubectl, cluster.namespace
    out = k.run(
        "-n", ns, "apply", "--server-side", "-f", str(write(tmp_path, manifest("web")))
    ).stdout
    assert out.strip() == "deployment.apps/web serverside-applied"
    k.run("-n", ns, "rollout", "status", "deployment/web", "--timeout=120s")
    k.run("-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=60s")
    deploy = k.json("-n", ns, "get", "deployment", "web")
    status = deploy["status"]
    assert status["observedGeneration"] == deploy["metadata"]["generation"]
    assert (
        status["replicas"],
        status["updatedReplicas"],
        status["readyReplicas"],
        status["availableReplicas"],
    ) == (2, 2, 2, 2)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = k.json("-n", ns, "get", "pods", "-l", "app=web")["items"]
    assert len(pods) == 2
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)


def test_kubectl_apply_is_idempotent_and_sends_no_change(cluster: Cluster, tmp_path: Path) -> None:
    k, ns = cluster.kubectl, cluster.namespace
    path = write(tmp_path, manifest("idem", replicas=1))
    k.run("-n", ns, "apply", "--server-side", "-f", str(path))
    k.run("-n", ns, "rollout", "status", "deployment/idem", "--timeout=120s")
    before = k.json("-n", ns, "get", "deployment", "idem")["metadata"]
    k.run("-n", ns, "apply", "--server-side", "-f", str(path))
    after = k.json("-n", ns, "get", "deployment", "idem")["metadata"]
    assert after["generation"] == before["generation"]


def test_kubectl_conflict_names_the_owning_manager(cluster: Cluster, tmp_path: Path) -> None:
    k, ns = cluster.kubectl, cluster.namespace
    k.run(
        "-n",
        ns,
        "apply",
        "--server-side",
        "--field-manager=alice",
        "-f",
        str(write(tmp_path, manifest("c", replicas=1))),
    )
    proc = k.run(
        "-n",
        ns,
        "apply",
        "--server-side",
        "--field-manager=bob",
        "-f",
        str(write(tmp_path, manifest("c", replicas=3))),
        check=False,
    )
    assert proc.returncode != 0
    assert 'conflict with "alice"' in proc.stderr
    assert ".spec.replicas" in proc.stderr
    k.run(
        "-n",
        ns,
        "apply",
        "--server-side",
        "--field-manager=bob",
        "--force-conflicts",
        "-f",
        str(write(tmp_path, manifest("c", replicas=3))),
    )
    assert k.json("-n", ns, "get", "deployment", "c")["spec"]["replicas"] == 3


def test_kubectl_patch_scale_rolling_update_and_delete(cluster: Cluster, tmp_path: Path) -> None:
    k, ns = cluster.kubectl, cluster.namespace
    k.run("-n", ns, "apply", "--server-side", "-f", str(write(tmp_path, manifest("roll"))))
    k.run("-n", ns, "rollout", "status", "deployment/roll", "--timeout=120s")
    k.run(
        "-n",
        ns,
        "patch",
        "deployment",
        "roll",
        "--type=strategic",
        "-p",
        json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": IMAGE_2}]}}}}
        ),
    )
    k.run("-n", ns, "rollout", "status", "deployment/roll", "--timeout=120s")
    deploy = k.json("-n", ns, "get", "deployment", "roll")
    assert deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert deploy["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 8080, "protocol": "TCP"}
    ]
    sets = k.json("-n", ns, "get", "replicasets", "-l", "app=roll")["items"]
    assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, 2]
    out = k.run("-n", ns, "scale", "deployment/roll", "--replicas=3").stdout
    assert out.strip() == "deployment.apps/roll scaled"
    k.run("-n", ns, "rollout", "status", "deployment/roll", "--timeout=120s")
    assert k.json("-n", ns, "get", "deployment", "roll")["status"]["readyReplicas"] == 3
    k.run(
        "-n",
        ns,
        "patch",
        "deployment",
        "roll",
        "--type=merge",
        "-p",
        '{"metadata":{"labels":{"patched":"yes"}}}',
    )
    k.run(
        "-n",
        ns,
        "patch",
        "deployment",
        "roll",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/annotations/x","value":"y"}]',
    )
    meta = k.json("-n", ns, "get", "deployment", "roll")["metadata"]
    assert meta["labels"]["patched"] == "yes"
    assert meta["annotations"]["x"] == "y"
    out = k.run("-n", ns, "delete", "deployment", "roll", "--wait=true", "--timeout=60s").stdout
    assert out.strip() == 'deployment.apps "roll" deleted'
    proc = k.run("-n", ns, "get", "deployment", "roll", check=False)
    assert proc.returncode == 1
    assert 'deployments.apps "roll" not found' in proc.stderr


def test_kubectl_get_describe_and_missing_resource_errors(cluster: Cluster) -> None:
    k, ns = cluster.kubectl, cluster.namespace
    k.run("-n", ns, "create", "configmap", "cfg", "--from-literal=a=1")
    table = k.run("-n", ns, "get", "configmaps").stdout
    assert (
        table.splitlines()[0].split()[:2] == ["NAME", "DATA"]
        or table.splitlines()[0].split()[0] == "NAME"
    )
    assert "cfg" in table
    described = k.run("-n", ns, "describe", "configmap", "cfg").stdout
    assert "Name:" in described
    assert "cfg" in described
    proc = k.run("-n", ns, "get", "configmap", "nope", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == 'Error from server (NotFound): configmaps "nope" not found'


def test_client_apply_read_patch_and_watch(cluster: Cluster) -> None:
    from kubernetes import client, config, watch

    api_client = config.new_client_from_config(str(cluster.kubectl.kubeconfig))  # type: ignore[no-untyped-call]
    try:
        apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
        ns = cluster.namespace
        body = json.loads(manifest("cl", replicas=1))
        created = apps.patch_namespaced_deployment(
            "cl",
            ns,
            body,
            field_manager="qengine",
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        meta = created.metadata
        assert meta is not None
        assert meta.managed_fields is not None
        assert meta.managed_fields[0].manager == "qengine"
        assert meta.managed_fields[0].operation == "Apply"
        read = apps.read_namespaced_deployment("cl", ns)
        assert read.spec is not None
        assert read.spec.template.spec is not None
        assert read.spec.template.spec.containers[0].image == IMAGE
        cm = core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w"), data={"a": "1"})
        )
        seen: list[tuple[str, str]] = []
        watcher = watch.Watch()  # type: ignore[no-untyped-call]
        done = threading.Event()

        def consume() -> None:
            assert cm.metadata is not None
            for event in watcher.stream(  # type: ignore[no-untyped-call]
                core.list_namespaced_config_map,
                ns,
                resource_version=cm.metadata.resource_version,
                timeout_seconds=20,
            ):
                seen.append((event["type"], event["object"].metadata.name))
                if event["type"] == "DELETED":
                    watcher.stop()  # type: ignore[no-untyped-call]
            done.set()

        thread = threading.Thread(target=consume)
        thread.start()
        core.patch_namespaced_config_map("w", ns, {"data": {"a": "2"}})
        core.delete_namespaced_config_map("w", ns)
        assert done.wait(30)
        thread.join(5)
        assert seen == [("MODIFIED", "w"), ("DELETED", "w")]
        with pytest.raises(client.ApiException) as info:
            core.read_namespaced_config_map("w", ns)
        assert info.value.status == 404
        assert json.loads(info.value.body or "{}")["reason"] == "NotFound"
    finally:
        api_client.close()


def test_client_server_side_apply_conflict(cluster: Cluster) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(str(cluster.kubectl.kubeconfig))  # type: ignore[no-untyped-call]
    try:
        apps = client.AppsV1Api(api_client)
        ns = cluster.namespace
        apps.patch_namespaced_deployment(
            "x",
            ns,
            json.loads(manifest("x", replicas=1)),
            field_manager="a",
            _content_type="application/apply-patch+yaml",
        )
        with pytest.raises(client.ApiException) as info:
            apps.patch_namespaced_deployment(
                "x",
                ns,
                json.loads(manifest("x", replicas=2)),
                field_manager="b",
                force=False,
                _content_type="application/apply-patch+yaml",
            )
        body: dict[str, Any] = json.loads(info.value.body or "{}")
        assert info.value.status == 409
        assert body["reason"] == "Conflict"
        assert body["details"]["causes"][0]["field"] == ".spec.replicas"
    finally:
        api_client.close()
