"""Pod and container states as a kubelet reports them, per restart policy and controller.

References (Kubernetes 1.31):

* "Pod Lifecycle" (kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/): the phase
  (``Failed``: "all containers in the Pod have terminated, and at least one container has
  terminated in failure"; ``Succeeded``: "terminated in success, and will not be
  restarted"), container states, the restart policy ("Always", "OnFailure", "Never") and the
  container restart back-off ("exponential back-off delay (10s, 20s, 40s, ...), that is
  capped at 300 seconds"); the kubelet's ``getPhase`` (pkg/kubelet/kubelet_pods.go), which
  counts a container waiting to restart as stopped.
* "Jobs" (kubernetes.io/docs/concepts/workloads/controllers/job/): with ``restartPolicy:
  Never`` a failed pod is replaced by a new one, "recreated by the Job controller with an
  exponential back-off delay (10s, 20s, 40s ...)"; the Job fails with ``Failed``
  (``BackoffLimitExceeded``) once more pods than ``backoffLimit`` failed; with ``OnFailure``
  the container restarts in place and its restarts count against the limit;
  ``activeDeadlineSeconds`` fails the Job with ``DeadlineExceeded``.
* "Images" (kubernetes.io/docs/concepts/containers/images/#imagepullbackoff): a pull that
  fails shows ``ErrImagePull``, then ``ImagePullBackOff`` while the kubelet backs off.
* "Init Containers": each runs to completion before the next; a failing one is restarted
  unless the pod's ``restartPolicy`` is ``Never``, in which case the pod fails.
* "Termination messages" (kubernetes.io/docs/tasks/debug/debug-application/
  determine-reason-pod-failure/): ``FallbackToLogsOnError`` uses the last chunk of the log
  (at most 2048 bytes or 80 lines) when the container exits with an error.
"""

from __future__ import annotations

import time
from typing import Any

from qengine.testing.kube import KubeSimulator, PodFault

from .conftest import Kubectl, Raw, get
from .test_controllers import eventually

PODS = "/api/v1/namespaces/default/pods"
JOBS = "/apis/batch/v1/namespaces/default/jobs"
FAULT = "sim.qengine.dev/fault"
EXIT = "sim.qengine.dev/exit-code"


def pod(
    name: str,
    policy: str,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {
            "restartPolicy": policy,
            "containers": [{"name": "app", "image": "busybox:1.36"}],
            **spec,
        },
    }


def crashing(code: int = 1) -> dict[str, str]:
    return {FAULT: "CrashLoopBackOff", EXIT: str(code)}


def job(name: str, policy: str, annotations: dict[str, str], **spec: Any) -> dict[str, Any]:
    template = {
        "metadata": {"annotations": annotations},
        "spec": {"restartPolicy": policy, "containers": [{"name": "run", "image": "busybox:1"}]},
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": template, **spec},
    }


def container(sim: KubeSimulator, name: str, index: int = 0, init: bool = False) -> Any:
    found = sim.get_object("pods", "default", name) or {}
    key = "initContainerStatuses" if init else "containerStatuses"
    statuses = found.get("status", {}).get(key) or []
    return statuses[index] if len(statuses) > index else None


def waits(sim: KubeSimulator, name: str, reason: str, restarts: int, **kw: Any) -> Any:
    """The container status once it waits for ``reason`` after ``restarts`` restarts."""

    def check() -> Any:
        status = container(sim, name, **kw)
        waiting = status and (status["state"].get("waiting") or {}).get("reason")
        return status if waiting == reason and status["restartCount"] == restarts else None

    return eventually(check, timeout=10)


def phase(sim: KubeSimulator, name: str) -> str:
    return str(get(sim, "pods", "default", name).get("status", {}).get("phase"))


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in obj.get("status", {}).get("conditions") or []}


def test_never_a_failed_container_is_terminated_and_not_restarted(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl, k8s: Any
) -> None:
    from kubernetes import client

    raw.request("POST", PODS, pod("once", "Never", crashing(3)))
    eventually(lambda: phase(sim, "once") == "Failed")
    time.sleep(1.5)  # a kubelet sync later: still no restart
    read = client.CoreV1Api(k8s).read_namespaced_pod("once", "default")
    status = read.status.container_statuses[0]
    assert status.restart_count == 0
    assert status.state.waiting is None
    assert status.state.terminated.exit_code == 3
    assert status.state.terminated.reason == "Error"
    assert status.state.terminated.finished_at is not None
    assert status.last_state.terminated is None
    assert (status.ready, status.started) == (False, False)
    ready = conditions(get(sim, "pods", "default", "once"))["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "PodFailed")
    row = kubectl.run("get", "pod", "once", "--no-headers").stdout.split()
    assert row[1:4] == ["0/1", "Error", "0"]


def test_always_restarts_with_growing_back_off_on_the_clock(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    raw.request("POST", PODS, pod("crash", "Always", crashing()))
    first = eventually(lambda: container(sim, "crash"))
    assert first["restartCount"] == 0
    assert first["state"]["terminated"]["reason"] == "Error"  # exited, not yet restarted
    status = waits(sim, "crash", "CrashLoopBackOff", 1)
    uid = get(sim, "pods", "default", "crash")["metadata"]["uid"]
    assert status["state"]["waiting"]["message"] == (
        f"back-off 10s restarting failed container=app pod=crash_default({uid})"
    )
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert phase(sim, "crash") == "Running"
    time.sleep(1)
    assert container(sim, "crash")["restartCount"] == 1  # backing off: no restart yet
    sim.clock.advance(10)
    status = waits(sim, "crash", "CrashLoopBackOff", 2)
    assert "back-off 20s" in status["state"]["waiting"]["message"]
    sim.clock.advance(3600)
    status = waits(sim, "crash", "CrashLoopBackOff", 17)  # 10, 20, ... then every 300 s
    assert "back-off 5m0s restarting" in status["state"]["waiting"]["message"]  # Go's 300 s
    row = kubectl.run("get", "pod", "crash", "--no-headers").stdout.split()
    assert row[1:4] == ["0/1", "CrashLoopBackOff", "17"]


def test_always_restarts_a_container_that_completes(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", PODS, pod("done", "Always", crashing(0)))
    status = waits(sim, "done", "CrashLoopBackOff", 1)
    assert status["lastState"]["terminated"]["reason"] == "Completed"
    assert status["lastState"]["terminated"]["exitCode"] == 0
    assert phase(sim, "done") == "Running"


def test_pod_fault_over_http_with_an_exit_code(sim: KubeSimulator, raw: Raw) -> None:
    fault = {"pod": {"kind": "CrashLoopBackOff", "image": "exits-42", "exit_code": 42}}
    assert raw.request("POST", "/_sim/faults", fault)[0] == 201
    body = pod("answer", "Never")
    body["spec"]["containers"][0]["image"] = "example/exits-42:1"
    raw.request("POST", PODS, body)
    eventually(lambda: phase(sim, "answer") == "Failed")
    assert container(sim, "answer")["state"]["terminated"]["exitCode"] == 42


def test_on_failure_restarts_in_place_and_a_success_ends_the_pod(
    sim: KubeSimulator, raw: Raw
) -> None:
    raw.request("POST", PODS, pod("retry", "OnFailure", crashing(2)))
    raw.request("POST", PODS, pod("fine", "OnFailure", crashing(0)))
    status = waits(sim, "retry", "CrashLoopBackOff", 1)
    assert status["lastState"]["terminated"]["exitCode"] == 2
    assert phase(sim, "retry") == "Running"
    eventually(lambda: phase(sim, "fine") == "Succeeded")
    fine = container(sim, "fine")
    assert fine["restartCount"] == 0
    assert fine["state"]["terminated"]["reason"] == "Completed"
    assert conditions(get(sim, "pods", "default", "fine"))["Ready"]["reason"] == "PodCompleted"


def test_oom_killed_under_never_fails_the_pod_with_137(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", PODS, pod("oom", "Never", {FAULT: "OOMKilled"}))
    eventually(lambda: phase(sim, "oom") == "Failed")
    ended = container(sim, "oom")["state"]["terminated"]
    assert (ended["reason"], ended["exitCode"]) == ("OOMKilled", 137)
    assert container(sim, "oom")["restartCount"] == 0


def test_image_pull_fails_with_err_image_pull_then_backs_off(sim: KubeSimulator, raw: Raw) -> None:
    sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="no-such"))
    body = pod("pull", "Always")
    body["spec"]["containers"][0]["image"] = "registry.example/no-such:1"
    raw.request("POST", PODS, body)
    first = waits(sim, "pull", "ErrImagePull", 0)
    assert "failed to pull and unpack image" in first["state"]["waiting"]["message"]
    assert first["lastState"] == {}
    later = waits(sim, "pull", "ImagePullBackOff", 0)
    assert later["state"]["waiting"]["message"] == (
        'Back-off pulling image "registry.example/no-such:1"'
    )
    assert phase(sim, "pull") == "Pending"
    sim.clock.advance(10)  # the pull back-off is over: the kubelet tries again

    def pulls() -> int:
        for event in sim.objects("events", "default"):
            if event["involvedObject"]["name"] == "pull" and event["reason"] == "Pulling":
                return int(event["count"])
        return 0

    assert eventually(lambda: pulls() == 2)


def test_only_the_faulty_container_crashes(sim: KubeSimulator, raw: Raw) -> None:
    sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="broken-sidecar"))
    body = pod("two", "Always")
    body["spec"]["containers"].append({"name": "side", "image": "example/broken-sidecar:1"})
    raw.request("POST", PODS, body)
    waits(sim, "two", "CrashLoopBackOff", 1, index=1)
    app = container(sim, "two", 0)
    assert app["state"].get("running")
    assert app["ready"] is True
    ready = conditions(get(sim, "pods", "default", "two"))["Ready"]
    assert ready["message"] == "containers with unready status: [side]"


def test_a_failing_init_container_holds_the_pod(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="migrator"))
    init = [{"name": "migrate", "image": "example/migrator:1"}]
    raw.request("POST", PODS, pod("held", "Always", initContainers=init))
    raw.request("POST", PODS, pod("gone", "Never", initContainers=init))
    waits(sim, "held", "CrashLoopBackOff", 1, init=True)
    app = container(sim, "held")
    assert app["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert phase(sim, "held") == "Pending"
    initialized = conditions(get(sim, "pods", "default", "held"))["Initialized"]
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")
    row = kubectl.run("get", "pod", "held", "--no-headers").stdout.split()
    assert row[2] == "Init:CrashLoopBackOff"
    eventually(lambda: phase(sim, "gone") == "Failed")
    assert kubectl.run("get", "pod", "gone", "--no-headers").stdout.split()[2] == "Init:Error"


def test_init_containers_complete_before_the_app_starts(sim: KubeSimulator, raw: Raw) -> None:
    init = [{"name": "one", "image": "busybox:1"}, {"name": "two", "image": "busybox:1"}]
    raw.request("POST", PODS, pod("ok", "Always", initContainers=init))
    eventually(lambda: (container(sim, "ok") or {}).get("ready"))
    for index in (0, 1):
        done = container(sim, "ok", index, init=True)
        assert done["state"]["terminated"]["reason"] == "Completed"
        assert done["ready"] is True
    assert conditions(get(sim, "pods", "default", "ok"))["Initialized"]["status"] == "True"


def test_termination_message_falls_back_to_the_log_on_error(sim: KubeSimulator, raw: Raw) -> None:
    lines = "".join(f"line {n}\n" for n in range(100))
    body = pod("msg", "Never", {**crashing(), "sim.qengine.dev/logs": lines})
    body["spec"]["containers"][0]["terminationMessagePolicy"] = "FallbackToLogsOnError"
    raw.request("POST", PODS, body)
    eventually(lambda: phase(sim, "msg") == "Failed")
    message = container(sim, "msg")["state"]["terminated"]["message"]
    assert message.splitlines()[0] == "line 20"  # the last 80 lines
    assert message.endswith("line 99\n")


def test_termination_message_file_is_reported(sim: KubeSimulator, raw: Raw) -> None:
    note = {"sim.qengine.dev/termination-message": '{"SCHEMA": "7"}'}
    raw.request("POST", PODS, pod("wrote", "Never", note))
    eventually(lambda: phase(sim, "wrote") == "Succeeded")
    assert container(sim, "wrote")["state"]["terminated"]["message"] == '{"SCHEMA": "7"}'


# -- Jobs ----------------------------------------------------------------------------------


def job_status(sim: KubeSimulator, name: str) -> dict[str, Any]:
    return dict((sim.get_object("jobs.batch", "default", name) or {}).get("status") or {})


def job_pods(sim: KubeSimulator, name: str) -> list[dict[str, Any]]:
    return [
        p
        for p in sim.objects("pods", "default")
        if p["metadata"].get("labels", {}).get("job-name") == name
    ]


def test_job_never_replaces_failed_pods_after_back_off_until_the_limit(
    sim: KubeSimulator, raw: Raw, kubectl: Kubectl
) -> None:
    raw.request("POST", JOBS, job("limit", "Never", crashing(4), backoffLimit=2))
    eventually(lambda: job_status(sim, "limit").get("failed") == 1)
    time.sleep(1)
    assert len(job_pods(sim, "limit")) == 1  # the 10 s back-off first
    sim.clock.advance(10)
    eventually(lambda: job_status(sim, "limit").get("failed") == 2)
    sim.clock.advance(10)
    time.sleep(0.5)
    assert len(job_pods(sim, "limit")) == 2  # the second back-off is 20 s
    sim.clock.advance(10)
    kubectl.run("wait", "--for=condition=Failed", "job/limit", "--timeout=20s")
    status = job_status(sim, "limit")
    assert status["failed"] == 3
    assert "active" not in status
    found = conditions({"status": status})
    assert found["Failed"]["reason"] == "BackoffLimitExceeded"
    assert found["Failed"]["message"] == "Job has reached the specified backoff limit"
    assert found["FailureTarget"]["reason"] == "BackoffLimitExceeded"
    pods = job_pods(sim, "limit")
    assert [p["status"]["phase"] for p in pods] == ["Failed"] * 3
    for each in pods:
        state = each["status"]["containerStatuses"][0]
        assert state["restartCount"] == 0
        assert state["state"]["terminated"]["exitCode"] == 4


def test_job_on_failure_counts_container_restarts(sim: KubeSimulator, raw: Raw) -> None:
    raw.request("POST", JOBS, job("inplace", "OnFailure", crashing(), backoffLimit=2))
    eventually(lambda: [p["metadata"]["name"] for p in job_pods(sim, "inplace")])
    name = job_pods(sim, "inplace")[0]["metadata"]["name"]
    waits(sim, name, "CrashLoopBackOff", 1)
    assert phase(sim, name) == "Running"
    assert job_status(sim, "inplace")["active"] == 1
    sim.clock.advance(10)  # the second restart reaches the limit of 2
    failed = eventually(lambda: conditions({"status": job_status(sim, "inplace")}).get("Failed"))
    assert failed["reason"] == "BackoffLimitExceeded"
    assert job_status(sim, "inplace")["failed"] == 1
    assert job_pods(sim, "inplace") == []  # the controller deleted the running pod


def test_job_active_deadline_fails_it_on_the_clock(sim: KubeSimulator, raw: Raw) -> None:
    stuck = job("slow", "Never", {FAULT: "ImagePullBackOff"}, activeDeadlineSeconds=30)
    raw.request("POST", JOBS, stuck)
    eventually(lambda: job_status(sim, "slow").get("active") == 1)
    time.sleep(0.5)
    assert "conditions" not in job_status(sim, "slow")
    sim.clock.advance(31)
    failed = eventually(lambda: conditions({"status": job_status(sim, "slow")}).get("Failed"))
    assert failed["reason"] == "DeadlineExceeded"
    assert failed["message"] == "Job was active longer than specified deadline"
    assert job_pods(sim, "slow") == []


def test_job_succeeds_when_the_pod_replacing_a_failed_one_passes(
    sim: KubeSimulator, raw: Raw
) -> None:
    sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="flaky"))
    body = job("flaky", "Never", {}, backoffLimit=3)
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "example/flaky:1"
    raw.request("POST", JOBS, body)
    eventually(lambda: job_status(sim, "flaky").get("failed"))
    sim.faults.clear()  # the next pod's container passes
    sim.clock.advance(10)
    done = eventually(lambda: conditions({"status": job_status(sim, "flaky")}).get("Complete"))
    assert done["reason"] == "CompletionsReached"
    status = job_status(sim, "flaky")
    assert (status["succeeded"], status["failed"]) == (1, 1)
    assert "completionTime" in status
