"""Fault injection: pod faults with the statuses and Events a cluster shows; API faults."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any

import pytest

from qengine.testing.kube import ApiFault, KubeSimulator, PodFault

from .conftest import Kubectl, Raw, get
from .test_api_semantics import CM, DEPLOYS, configmap, deployment
from .test_controllers import eventually

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, image: str = "busybox:1", fault: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if fault:
        meta["annotations"] = {"sim.qengine.dev/fault": fault}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": [{"name": "c", "image": image}]},
    }


def events_for(sim: KubeSimulator, name: str) -> list[tuple[str, str]]:
    return [
        (e["type"], e["reason"])
        for e in sim.objects("events", "default")
        if e["involvedObject"]["name"] == name
    ]


def test_image_pull_backoff_by_image_name(sim: KubeSimulator, raw: Raw) -> None:
    sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="does-not-exist"))
    raw.request("POST", PODS, pod("p", image="registry.example.com/does-not-exist:1"))

    def waiting() -> Any:
        statuses = (
            (sim.get_object("pods", "default", "p") or {})
            .get("status", {})
            .get("containerStatuses")
        )
        state = statuses and statuses[0]["state"].get("waiting")
        return state if state and state["reason"] == "ImagePullBackOff" else None

    state = eventually(waiting)  # ErrImagePull first, then ImagePullBackOff
    assert state["message"] == 'Back-off pulling image "registry.example.com/does-not-exist:1"'
    assert get(sim, "pods", "default", "p")["status"]["phase"] == "Pending"
    assert ("Warning", "Failed") in events_for(sim, "p")
    assert ("Normal", "BackOff") in events_for(sim, "p")


def test_crash_loop_back_off_counts_restarts(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", PODS, pod("crash", fault="CrashLoopBackOff"))

    def backing_off(restarts: int) -> Any:
        statuses = (
            (sim.get_object("pods", "default", "crash") or {})
            .get("status", {})
            .get("containerStatuses")
        )
        status = statuses and statuses[0]
        waiting = status and status["restartCount"] == restarts and status["state"].get("waiting")
        return waiting and status

    eventually(lambda: backing_off(1))
    sim.clock.advance(10)  # the kubelet's 10 s back-off before the second restart
    status = eventually(lambda: backing_off(2), timeout=10)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["ready"] is False
    assert ("Warning", "BackOff") in events_for(sim, "crash")


def test_oom_killed(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", PODS, pod("oom", fault="OOMKilled"))

    def terminated() -> Any:
        statuses = (
            (sim.get_object("pods", "default", "oom") or {})
            .get("status", {})
            .get("containerStatuses")
        )
        return statuses and statuses[0]["lastState"].get("terminated")

    last = eventually(terminated)
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)


def test_unschedulable_with_failed_scheduling_event(
    sim: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    raw.request("POST", PODS, pod("stuck", fault="Unschedulable"))

    def condition() -> Any:
        conditions = (
            (sim.get_object("pods", "default", "stuck") or {})
            .get("status", {})
            .get("conditions", [])
        )
        return next((c for c in conditions if c["type"] == "PodScheduled"), None)

    scheduled = eventually(condition)
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    stuck = get(sim, "pods", "default", "stuck")
    assert stuck is not None
    assert "nodeName" not in stuck["spec"]
    assert ("Warning", "FailedScheduling") in events_for(sim, "stuck")
    described = kubectl.run("describe", "pod", "stuck").stdout
    assert "FailedScheduling" in described
    assert "Insufficient cpu" in described


def test_failing_readiness_keeps_a_deployment_unavailable(
    sim: KubeSimulator, kubectl: Kubectl, raw: Raw
) -> None:
    body = deployment("never", replicas=1)
    body["spec"]["template"]["metadata"]["annotations"] = {
        "sim.qengine.dev/fault": "ReadinessFailure"
    }
    raw.request("POST", DEPLOYS, body)
    proc = kubectl.run(
        "wait", "--for=condition=Available", "deployment/never", "--timeout=2s", check=False
    )
    assert proc.returncode != 0
    obj = get(sim, "deployments.apps", "default", "never")
    assert obj is not None
    assert obj["status"].get("availableReplicas", 0) == 0
    assert ("Warning", "Unhealthy") in [
        r for p in sim.objects("pods", "default") for r in events_for(sim, p["metadata"]["name"])
    ]


def test_progress_deadline_exceeded(sim: KubeSimulator, kubectl: Kubectl, raw: Raw) -> None:
    body = deployment("slow", replicas=1)
    body["spec"]["progressDeadlineSeconds"] = 1
    body["spec"]["template"]["metadata"]["annotations"] = {
        "sim.qengine.dev/fault": "ImagePullBackOff"
    }
    raw.request("POST", DEPLOYS, body)
    time.sleep(0.3)
    sim.clock.advance(5)
    proc = kubectl.run("rollout", "status", "deployment/slow", "--timeout=20s", check=False)
    assert proc.returncode == 1
    assert 'deployment "slow" exceeded its progress deadline' in proc.stderr


def test_api_fault_429_has_retry_after(sim: KubeSimulator, raw: Raw) -> None:
    sim.faults.add_api(
        ApiFault(kind="429", methods=("GET",), path_contains="/configmaps", retry_after=3, count=1)
    )
    status, body, headers = raw.request("GET", CM)
    assert status == 429
    assert headers["Retry-After"] == "3"
    assert body["reason"] == "TooManyRequests"
    assert body["details"]["retryAfterSeconds"] == 3
    status, _, _ = raw.request("GET", CM)
    assert status == 200


def test_api_fault_500_for_a_fraction(raw: Raw, sim: KubeSimulator) -> None:
    sim.faults.add_api(ApiFault(kind="500", fraction=0.5, path_contains="/configmaps"))
    statuses = [raw.request("GET", CM)[0] for _ in range(60)]
    assert 10 < statuses.count(500) < 50
    assert statuses.count(500) + statuses.count(200) == 60


def test_api_fault_drops_the_connection(sim: KubeSimulator) -> None:
    sim.faults.add_api(ApiFault(kind="drop", count=1, path_contains="/configmaps"))
    tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", sim.port, context=tls, timeout=5)
    conn.request("GET", CM, headers={"Authorization": f"Bearer {sim.token}"})
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
        conn.getresponse()
    conn.close()
    assert sim.requests()[-1].status == 0


def test_api_fault_slow_response(sim: KubeSimulator, raw: Raw) -> None:
    sim.faults.add_api(ApiFault(kind="slow", delay=0.4, count=1, path_contains="/configmaps"))
    started = time.monotonic()
    status, _, _ = raw.request("GET", CM)
    assert status == 200
    assert time.monotonic() - started >= 0.4


def test_faults_and_request_log_over_http(sim: KubeSimulator, raw: Raw) -> None:
    status, _, _ = raw.request(
        "POST", "/_sim/faults", {"api": {"kind": "500", "methods": ["POST"], "count": 1}}
    )
    assert status == 201
    assert raw.get("/_sim/faults")["api"][0]["kind"] == "500"
    assert raw.request("POST", CM, configmap("x"))[0] == 500
    assert raw.request("POST", CM, configmap("x"))[0] == 201
    raw.request("DELETE", "/_sim/faults")
    log = raw.get("/_sim/requests")["requests"]
    posts = [r for r in log if r["method"] == "POST" and r["path"] == CM]
    assert [r["status"] for r in posts] == [500, 201]
    assert posts[0]["content_type"] == "application/json"
    assert set(posts[0]) >= {"method", "path", "query", "content_type", "status", "time"}


def test_request_log_shows_a_noop_apply_sends_no_mutation(
    sim: KubeSimulator, kubectl: Kubectl, tmp_path: Any
) -> None:
    path = tmp_path / "cm.json"
    path.write_text(json.dumps(configmap("same")))
    kubectl.run("apply", "--server-side", "-f", str(path))
    before = get(sim, "configmaps", "default", "same")["metadata"]["resourceVersion"]
    sim.clear_requests()
    kubectl.run("apply", "--server-side", "-f", str(path))
    mutating = [r for r in sim.requests() if r.mutating]
    assert [(r.method, r.content_type) for r in mutating] == [
        ("PATCH", "application/apply-patch+yaml")
    ]
    assert get(sim, "configmaps", "default", "same")["metadata"]["resourceVersion"] == before


def test_arrivals_count_a_watch_from_its_start(sim: KubeSimulator) -> None:
    """A watch is in the request log once it ends; in the arrivals as soon as it starts, so
    a count taken while it is open (or after its client went away) includes it."""
    sim.clear_requests()
    tls = ssl.create_default_context(cadata=sim.ca_pem.decode())
    host, port = sim.url.removeprefix("https://").split(":")
    conn = http.client.HTTPSConnection(host, int(port), context=tls, timeout=10)
    conn.request(
        "GET",
        CM + "?watch=1&timeoutSeconds=5",
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    response = conn.getresponse()
    try:
        assert response.status == 200
        assert [(a.method, a.path, a.mutating) for a in sim.arrivals()] == [("GET", CM, False)]
        assert sim.requests() == []
    finally:
        conn.close()
    sim.create_object(configmap("after"))
    assert [a.mutating for a in sim.arrivals()] == [False]  # in-process writes are not requests


def test_wrong_token_for_the_sim_paths(raw: Raw) -> None:
    status, _, _ = raw.request("GET", "/_sim/requests", token="nope")
    assert status == 401


def test_unknown_faults_are_refused(sim: KubeSimulator, raw: Raw) -> None:
    from qengine._errors import InvalidInputError

    with pytest.raises(InvalidInputError) as info:
        PodFault(kind="Sneezing")
    assert "CrashLoopBackOff" in info.value.hint
    status, body, _ = raw.request("POST", "/_sim/faults", {"api": {"kind": "418"}})
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert raw.get("/_sim/faults") == {"api": [], "pod": []}
