"""The engine's failure classes and log capture against the pod states a kubelet reports.

A run-once Job's pod runs with ``restartPolicy: Never``: a container that exits non-zero is
``terminated`` (reason ``Error``, its exit code), the pod ``Failed``, and the Job fails once
more pods failed than its ``backoffLimit`` (Kubernetes "Jobs" and "Pod Lifecycle"
documentation). A Deployment's crashing container restarts and shows ``CrashLoopBackOff``
with the exit in ``lastState``. The simulator reports those states; these tests check that
the engine tells why from them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import Deploy, sim_settings
from qengine_kubernetes.access import connect
from qengine_kubernetes.outputs import read_outputs
from qengine_kubernetes.spec import SandboxTarget

from qengine import EventType
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"


def _with_job(doc: dict[str, Any], image: str, **extra: Any) -> dict[str, Any]:
    job = {
        "kind": "job",
        "name": "migrate-once",
        "schedule": {"on": "before_start"},
        "image": image,
        "tag": "1",
        **extra,
    }
    doc["environment"]["services"] = [job]
    return doc


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("CrashLoopBackOff", 3, "exited with code 3 (Error)"),
        ("OOMKilled", 137, "was killed for using too much memory"),
    ],
)
def test_k8s_a_failed_job_is_classified_with_its_logs(
    k8s_deploy: Deploy,
    k8s_sim: KubeSimulator,
    example: Example,
    kind: str,
    code: int,
    expected: str,
) -> None:
    k8s_sim.faults.add_pod(PodFault(kind=kind, image="failing", exit_code=code))
    # The namespace exists before the job (a failed first deploy deletes one it created,
    # and the failed pod with it).
    k8s_sim.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})

    failed = k8s_deploy(_with_job(example("quickstart"), "example.org/failing"), job_id="j")

    assert failed.result.status is JobStatus.FAILED
    error = failed.result.error
    assert error is not None
    assert error.message.startswith("migrate-once: job migrate-once-")
    assert expected in error.message, error.message
    assert error.hint
    assert "Warning Events" not in error.hint  # a class was found, with its own hint
    pods = k8s_sim.objects("pods", NS)
    assert [p["status"]["phase"] for p in pods] == ["Failed"]  # backoffLimit 0: one pod
    state = pods[0]["status"]["containerStatuses"][0]
    assert (state["restartCount"], state["lastState"]) == (0, {})
    assert state["state"]["terminated"]["exitCode"] == code
    logs = failed.messages(EventType.LOG)
    assert any(line.startswith(pods[0]["metadata"]["name"] + "/") for line in logs), logs


def test_k8s_a_job_that_fails_once_then_passes_is_not_failed_early(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    """A failed pod of a Job with retries left is not the Job's failure: the Job controller
    replaces it (after its 10 s back-off, here on the simulator's clock)."""
    k8s_sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="flaky"))
    doc = _with_job(example("quickstart"), "example.org/flaky", max_restarts=2)
    outcome: list[Any] = []
    runner = threading.Thread(target=lambda: outcome.append(k8s_deploy(doc, job_id="f")))
    runner.start()
    deadline = time.monotonic() + 20
    while not any(
        p.get("status", {}).get("phase") == "Failed" for p in k8s_sim.objects("pods", NS)
    ):
        assert time.monotonic() < deadline, "no pod failed"
        time.sleep(0.05)
    k8s_sim.faults.clear()  # the next attempt passes
    k8s_sim.clock.advance(10)
    runner.join(timeout=60)

    assert outcome
    assert outcome[0].result.status is JobStatus.SUCCEEDED, outcome[0].result.error
    phases = sorted(p["status"]["phase"] for p in k8s_sim.objects("pods", NS))
    assert phases == ["Failed", "Succeeded"]


def test_k8s_outputs_come_from_the_pod_that_succeeded(k8s_sim: KubeSimulator) -> None:
    """The kubelet copies the termination message file into ``state.terminated.message``
    of the container that completed; a Job retried after a failure has a Failed pod too,
    whose message is not the outputs."""
    k8s_sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="second-try"))
    message = '{"SCHEMA": "42"}'
    template = {
        "metadata": {"annotations": {"sim.qengine.dev/termination-message": message}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "migrate", "image": "example.org/second-try:1"}],
        },
    }
    k8s_sim.create_object(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "migrate-1", "namespace": "default"},
            "spec": {"backoffLimit": 1, "template": template},
        }
    )
    deadline = time.monotonic() + 10
    while (
        not (k8s_sim.get_object("jobs.batch", "default", "migrate-1") or {})
        .get("status", {})
        .get("failed")
    ):
        assert time.monotonic() < deadline, "the first pod did not fail"
        time.sleep(0.05)
    k8s_sim.faults.clear()
    k8s_sim.clock.advance(10)
    api = connect(SandboxTarget(kind="sandbox"), sim_settings(k8s_sim))
    while True:
        job = api.get("Job", "default", "migrate-1") or {}
        conditions = {c["type"] for c in job.get("status", {}).get("conditions", [])}
        if "Complete" in conditions:
            break
        assert time.monotonic() < deadline + 10, "the job did not complete"
        time.sleep(0.05)

    assert read_outputs(api, "default", job, r"^[A-Z][A-Z0-9_]*$") == {"SCHEMA": "42"}
