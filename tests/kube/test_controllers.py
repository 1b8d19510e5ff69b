"""Simulated controllers: rolling updates, stateful sets, jobs, cron jobs, services, volumes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from qengine.testing.kube import KubeSimulator

from .conftest import Kubectl, Raw, get
from .test_api_semantics import DEPLOYS, deployment

NS = "/api/v1/namespaces/default"


def eventually(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(0.05)


def test_rolling_update_honours_max_surge_and_max_unavailable(sim: KubeSimulator, raw: Raw) -> None:
    body = deployment("r", replicas=4)
    body["spec"]["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    raw.request("POST", DEPLOYS, body)
    eventually(
        lambda: (
            get(sim, "deployments.apps", "default", "r").get("status", {}).get("availableReplicas")
            == 4
        )
    )
    start_rv = sim.store.resource_version
    raw.request(
        "PATCH",
        DEPLOYS + "/r",
        {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )

    def done() -> bool:
        obj = get(sim, "deployments.apps", "default", "r")
        assert obj is not None
        status = obj["status"]
        if status.get("observedGeneration") != obj["metadata"]["generation"]:
            return False
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        return bool(
            status.get("updatedReplicas") == 4
            and status.get("replicas") == 4
            and conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        )

    eventually(done)
    # Replay the pod history: never more than replicas + maxSurge pods, never fewer than
    # replicas - maxUnavailable ready ones.
    with sim.store.lock:
        changes = sim.store.changes_since(start_rv, ("", "pods"))
    peak, low_ready = 0, 99
    snapshot: dict[str, bool] = {}
    for obj in _pods_at(sim, start_rv):
        snapshot[obj["metadata"]["name"]] = _ready(obj)
    for change in changes:
        name = change.obj["metadata"]["name"]
        if change.type == "DELETED":
            snapshot.pop(name, None)
        else:
            snapshot[name] = _ready(change.obj)
        peak = max(peak, len(snapshot))
        low_ready = min(low_ready, sum(snapshot.values()))
    assert peak <= 5
    assert low_ready >= 4
    assert peak == 5  # the surge was used


def _ready(pod: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", [])
    )


def _pods_at(sim: KubeSimulator, rv: int) -> list[dict[str, Any]]:
    """The pods as they were at ``rv`` (rebuilt from the retained history)."""
    state: dict[str, dict[str, Any]] = {}
    with sim.store.lock:
        for change in sim.store.changes_since(0, ("", "pods")):
            if change.rv > rv:
                break
            if change.type == "DELETED":
                state.pop(change.obj["metadata"]["name"], None)
            else:
                state[change.obj["metadata"]["name"]] = change.obj
    return list(state.values())


def test_statefulset_creates_ordered_pods_and_claims(sim: KubeSimulator, raw: Raw) -> None:
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "pg", "image": "postgres:16"}]},
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    start_rv = sim.store.resource_version
    status, _, _ = raw.request("POST", "/apis/apps/v1/namespaces/default/statefulsets", sts)
    assert status == 201
    eventually(
        lambda: (
            get(sim, "statefulsets.apps", "default", "db").get("status", {}).get("readyReplicas")
            == 3
        )
    )
    with sim.store.lock:
        added = [
            c.obj["metadata"]["name"]
            for c in sim.store.changes_since(start_rv, ("", "pods"))
            if c.type == "ADDED"
        ]
    assert added == ["db-0", "db-1", "db-2"]
    claims = {c["metadata"]["name"]: c for c in sim.objects("persistentvolumeclaims", "default")}
    assert set(claims) == {"data-db-0", "data-db-1", "data-db-2"}
    eventually(
        lambda: all(
            c.get("status", {}).get("phase") == "Bound"
            for c in sim.objects("persistentvolumeclaims", "default")
        )
    )


def job(name: str, **extra: Any) -> dict[str, Any]:
    spec = {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "run", "image": "busybox:1"}],
            }
        }
    }
    spec.update(extra)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}


def test_job_completes(sim: KubeSimulator, kubectl: Kubectl, raw: Raw) -> None:
    raw.request("POST", "/apis/batch/v1/namespaces/default/jobs", job("once", completions=2))
    kubectl.run("wait", "--for=condition=Complete", "job/once", "--timeout=30s")
    done = get(sim, "jobs.batch", "default", "once")
    assert done is not None
    assert done["status"]["succeeded"] == 2
    assert done["status"]["completionTime"]
    assert (
        done["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"]
        == done["metadata"]["uid"]
    )


def test_job_fails_after_backoff_limit(sim: KubeSimulator, raw: Raw) -> None:
    body = job("bad", backoffLimit=1)
    body["spec"]["template"]["metadata"] = {
        "annotations": {"sim.qengine.dev/fault": "CrashLoopBackOff"}
    }
    raw.request("POST", "/apis/batch/v1/namespaces/default/jobs", body)

    def failed() -> dict[str, Any] | None:
        obj = sim.get_object("jobs.batch", "default", "bad") or {}
        conditions = {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}
        return conditions.get("Failed")

    eventually(
        lambda: (get(sim, "jobs.batch", "default", "bad") or {}).get("status", {}).get("failed")
    )
    sim.clock.advance(10)  # the Job controller's back-off before it replaces a failed pod
    condition = eventually(failed)
    assert condition["reason"] == "BackoffLimitExceeded"
    assert get(sim, "jobs.batch", "default", "bad")["status"]["failed"] == 2


def test_cronjob_runs_on_the_simulated_clock(sim: KubeSimulator, raw: Raw) -> None:
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "tick"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": job("x")["spec"]}},
    }
    raw.request("POST", "/apis/batch/v1/namespaces/default/cronjobs", cron)
    time.sleep(0.3)
    assert sim.objects("jobs.batch", "default") == [] or sim.clock.now().minute % 5 == 0
    sim.clock.advance(600)
    jobs = eventually(lambda: sim.objects("jobs.batch", "default"))
    assert jobs[0]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert eventually(
        lambda: get(sim, "cronjobs.batch", "default", "tick")["status"].get("lastScheduleTime")
    )


def test_service_gets_endpoint_slice_of_ready_pods(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", DEPLOYS, deployment("api", replicas=2))
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "api"},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "api"},
            "ports": [{"port": 80, "targetPort": 80}],
        },
    }
    raw.request("POST", f"{NS}/services", svc)

    def ready_endpoints() -> list[Any]:
        slices = [
            s
            for s in sim.objects("endpointslices.discovery.k8s.io", "default")
            if s["metadata"]["labels"].get("kubernetes.io/service-name") == "api"
        ]
        if not slices:
            return []
        ready = [e for e in slices[0]["endpoints"] if e["conditions"]["ready"]]
        return ready if len(ready) == 2 else []

    endpoints = eventually(ready_endpoints)
    assert all(e["targetRef"]["kind"] == "Pod" for e in endpoints)
    assert get(sim, "endpoints", "default", "api")["subsets"][0]["ports"][0]["port"] == 80
    lb = eventually(
        lambda: get(sim, "services", "default", "api")["status"]["loadBalancer"].get("ingress")
    )
    assert lb[0]["ip"] == "192.0.2.10"


def test_ingress_gets_an_address(sim: KubeSimulator, raw: Raw) -> None:
    ing = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web"},
        "spec": {
            "rules": [
                {
                    "host": "a.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ]
        },
    }
    raw.request("POST", "/apis/networking.k8s.io/v1/namespaces/default/ingresses", ing)
    assert eventually(
        lambda: (
            get(sim, "ingresses.networking.k8s.io", "default", "web")
            .get("status", {})
            .get("loadBalancer", {})
            .get("ingress")
        )
    )


def test_new_namespace_gets_default_service_account(sim: KubeSimulator, raw: Raw) -> None:
    raw.request(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    )
    assert eventually(lambda: sim.get_object("serviceaccounts", "team", "default"))
    root_ca = eventually(lambda: sim.get_object("configmaps", "team", "kube-root-ca.crt"))
    assert root_ca["data"]["ca.crt"] == sim.ca_pem.decode()


def test_controllers_can_be_switched_off() -> None:
    with KubeSimulator(controllers=False) as quiet:
        raw = Raw(quiet)
        raw.request("POST", DEPLOYS, deployment("still"))
        time.sleep(0.3)
        assert quiet.objects("replicasets.apps", "default") == []
        assert quiet.objects("pods", "default") == []


def test_pod_logs(sim: KubeSimulator, kubectl: Kubectl, raw: Raw) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "talker", "annotations": {"sim.qengine.dev/logs": "hello\nworld\n"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    raw.request("POST", f"{NS}/pods", pod)
    kubectl.run("wait", "--for=condition=Ready", "pod/talker", "--timeout=30s")
    assert kubectl.run("logs", "talker").stdout == "hello\nworld\n"
    assert kubectl.run("logs", "talker", "--tail=1").stdout == "world\n"


def test_recreate_strategy_removes_old_pods_before_new_ones(sim: KubeSimulator, raw: Raw) -> None:
    body = deployment("rc", replicas=2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    raw.request("POST", DEPLOYS, body)
    eventually(
        lambda: (
            (sim.get_object("deployments.apps", "default", "rc") or {})
            .get("status", {})
            .get("availableReplicas")
            == 2
        )
    )
    start_rv = sim.store.resource_version
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}
    raw.request(
        "PATCH", DEPLOYS + "/rc", patch, content_type="application/strategic-merge-patch+json"
    )

    def rolled() -> bool:
        pods = sim.objects("pods", "default")
        images = {
            p["spec"]["containers"][0]["image"]
            for p in pods
            if p["metadata"]["name"].startswith("rc-")
        }
        return (
            images == {"nginx:2"}
            and len([p for p in pods if p["metadata"]["name"].startswith("rc-")]) == 2
        )

    eventually(rolled)
    with sim.store.lock:
        changes = sim.store.changes_since(start_rv, ("", "pods"))
    first_new = next(c.rv for c in changes if c.type == "ADDED")
    last_old_gone = max(c.rv for c in changes if c.type == "DELETED")
    assert last_old_gone < first_new


def test_paused_deployment_does_not_roll(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", DEPLOYS, deployment("p", replicas=1))
    eventually(
        lambda: (
            (sim.get_object("deployments.apps", "default", "p") or {})
            .get("status", {})
            .get("availableReplicas")
            == 1
        )
    )
    merge = "application/merge-patch+json"
    raw.request("PATCH", DEPLOYS + "/p", {"spec": {"paused": True}}, content_type=merge)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "nginx:2"}]}}}}
    raw.request(
        "PATCH", DEPLOYS + "/p", patch, content_type="application/strategic-merge-patch+json"
    )
    time.sleep(0.5)
    images = {p["spec"]["containers"][0]["image"] for p in sim.objects("pods", "default")}
    assert images == {"nginx:1.25"}
    raw.request("PATCH", DEPLOYS + "/p", {"spec": {"paused": False}}, content_type=merge)
    eventually(
        lambda: (
            {p["spec"]["containers"][0]["image"] for p in sim.objects("pods", "default")}
            == {"nginx:2"}
        )
    )


def test_kubectl_get_prints_server_side_tables(
    sim: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    raw.request("POST", DEPLOYS, deployment("t", replicas=1))
    kubectl.run("rollout", "status", "deployment/t", "--timeout=30s")
    lines = kubectl.run("get", "deployments").stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert lines[1].split()[:4] == ["t", "1/1", "1", "1"]
    pods = kubectl.run("get", "pods", "-o", "wide").stdout.splitlines()
    assert pods[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert pods[1].split()[1:3] == ["1/1", "Running"]


def test_pods_can_go_through_terminating(tmp_path: Any) -> None:
    from .conftest import Kubectl

    with KubeSimulator(readiness_delay=0.1, pod_termination_delay=0.5) as graceful:
        raw = Raw(graceful)
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "slow"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
        }
        raw.request("POST", f"{NS}/pods", pod)
        status, body, _ = raw.request("DELETE", f"{NS}/pods/slow")
        assert status == 200
        assert body["metadata"]["deletionTimestamp"]
        assert body["metadata"]["deletionGracePeriodSeconds"] == 30
        kubectl = Kubectl(graceful.kubeconfig_path, tmp_path / "home")
        assert "Terminating" in kubectl.run("get", "pod", "slow").stdout
        eventually(lambda: graceful.get_object("pods", "default", "slow") is None, timeout=5)
        raw.request("POST", f"{NS}/pods", pod)
        kubectl.run("delete", "pod", "slow", "--timeout=10s")
        assert graceful.get_object("pods", "default", "slow") is None
        assert graceful.controller_errors == []


def test_kubectl_drain_evicts_and_cordon_holds_new_pods(
    sim: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    raw.request("POST", DEPLOYS, deployment("dr", replicas=1))
    kubectl.run("rollout", "status", "deployment/dr", "--timeout=30s")
    out = kubectl.run("drain", "sim-node-1", "--ignore-daemonsets", "--timeout=30s").stdout
    assert "evicted" in out
    assert "node/sim-node-1 drained" in out

    def pending() -> list[dict[str, Any]]:
        return [
            p
            for p in sim.objects("pods", "default")
            if p["metadata"]["name"].startswith("dr-") and p.get("status", {}).get("conditions")
        ]

    replacement = eventually(pending)[0]
    scheduled = next(c for c in replacement["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    kubectl.run("uncordon", "sim-node-1")
    kubectl.run("rollout", "status", "deployment/dr", "--timeout=30s")
    assert kubectl.run("auth", "can-i", "delete", "pods").stdout.strip() == "yes"
