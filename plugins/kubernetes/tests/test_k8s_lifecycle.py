"""pause, resume, restart and delete of environments on the simulator; failure classes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import Deploy, mutating
from qengine_kubernetes.diff import PAUSED_REPLICAS
from qengine_kubernetes.history import secret_name

from qengine import EventType
from qengine.interfaces.cancel import CancelToken
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

Example = Callable[[str], dict[str, Any]]
NS = "qe-quickstart-1a5010"


def _deployment(sim: KubeSimulator, name: str) -> dict[str, Any]:
    found = sim.get_object("deployments.apps", NS, name)
    assert found is not None
    return found


def test_k8s_pause_resume_and_a_noop_redeploy(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="d").result.status is JobStatus.SUCCEEDED

    paused = k8s_deploy(doc, job_id="p", action="pause").result

    assert paused.status is JobStatus.SUCCEEDED, paused.error
    worker = _deployment(k8s_sim, "worker")
    assert worker["spec"]["replicas"] == 0
    assert worker["metadata"]["annotations"][PAUSED_REPLICAS] == "1"
    assert k8s_sim.objects("pods", NS) == [] or all(
        p["metadata"]["labels"].get("job-name") for p in k8s_sim.objects("pods", NS)
    )
    cron = k8s_sim.get_object("cronjobs.batch", NS, "nightly-report")
    assert cron is not None
    assert cron["spec"]["suspend"] is True
    db = k8s_sim.get_object("statefulsets.apps", NS, "db")
    assert db is not None
    assert db["spec"]["replicas"] == 0

    resumed = k8s_deploy(doc, job_id="r", action="resume").result

    assert resumed.status is JobStatus.SUCCEEDED, resumed.error
    worker = _deployment(k8s_sim, "worker")
    assert worker["spec"]["replicas"] == 1
    assert PAUSED_REPLICAS not in worker["metadata"].get("annotations", {})
    assert worker["status"]["readyReplicas"] == 1
    cron = k8s_sim.get_object("cronjobs.batch", NS, "nightly-report")
    assert cron is not None
    assert cron["spec"]["suspend"] is False
    k8s_sim.clear_requests()
    assert k8s_deploy(doc, job_id="again").result.status is JobStatus.SUCCEEDED
    assert mutating(k8s_sim) == []


def test_k8s_deploy_of_a_paused_environment_resumes_it(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="d").result.status is JobStatus.SUCCEEDED
    assert k8s_deploy(doc, job_id="p", action="pause").result.status is JobStatus.SUCCEEDED

    result = k8s_deploy(doc, job_id="d2").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert _deployment(k8s_sim, "worker")["spec"]["replicas"] == 1
    assert _deployment(k8s_sim, "worker")["status"]["readyReplicas"] == 1


def test_k8s_restart_rolls_the_pods(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="d").result.status is JobStatus.SUCCEEDED
    before = {p["metadata"]["name"] for p in k8s_sim.objects("pods", NS)}

    result = k8s_deploy(doc, job_id="rs", action="restart").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    web = _deployment(k8s_sim, "web")
    assert "kubectl.kubernetes.io/restartedAt" in web["spec"]["template"]["metadata"]["annotations"]
    assert web["status"]["updatedReplicas"] == web["status"]["readyReplicas"] == 1
    after = {
        p["metadata"]["name"]
        for p in k8s_sim.objects("pods", NS)
        if p["metadata"]["labels"].get("app.kubernetes.io/name") == "web"
    }
    assert after
    assert not after & before


def test_k8s_delete_keeps_claims_unless_delete_data(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="d").result.status is JobStatus.SUCCEEDED
    assert k8s_sim.objects("persistentvolumeclaims", NS)

    kept = k8s_deploy(doc, job_id="x", action="delete")

    assert kept.result.status is JobStatus.SUCCEEDED, kept.result.error
    assert k8s_sim.get_object("namespaces", "", NS) is not None
    assert k8s_sim.objects("deployments.apps", NS) == []
    assert k8s_sim.get_object("secrets", NS, secret_name("web")) is None
    claims = [c["metadata"]["name"] for c in k8s_sim.objects("persistentvolumeclaims", NS)]
    assert claims
    warnings = " ".join(kept.messages(EventType.WARNING))
    assert all(name in warnings for name in claims), warnings

    doc["environment"]["delete_data"] = True
    gone = k8s_deploy(doc, job_id="y", action="delete").result

    assert gone.status is JobStatus.SUCCEEDED, gone.error
    assert k8s_sim.get_object("namespaces", "", NS) is None


def test_k8s_delete_of_one_service(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="d").result.status is JobStatus.SUCCEEDED
    doc["services"] = ["worker"]

    result = k8s_deploy(doc, job_id="x", action="delete").result

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert k8s_sim.get_object("deployments.apps", NS, "worker") is None
    assert k8s_sim.get_object("secrets", NS, "worker-env") is None
    assert k8s_sim.get_object("deployments.apps", NS, "web") is not None


def _single(image: str, *, replicas: int = 1) -> dict[str, Any]:
    return {
        "kind": "container",
        "name": "solo",
        "image": image,
        "tag": "1",
        "replicas": replicas,
    }


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("ImagePullBackOff", "cannot be pulled"),
        ("CrashLoopBackOff", "keeps exiting"),
        ("OOMKilled", "too much memory"),
        ("Unschedulable", "cannot be scheduled"),
    ],
)
def test_k8s_a_failed_first_deploy_is_classified_and_removed(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, kind: str, expected: str
) -> None:
    doc = example("quickstart")
    doc["environment"]["services"] = [_single("example.org/faulty")]
    k8s_sim.faults.add_pod(PodFault(kind=kind, image="faulty"))

    failed = k8s_deploy(doc, job_id="f")

    assert failed.result.status is JobStatus.FAILED
    assert failed.result.error is not None
    assert expected in failed.result.error.message
    assert failed.result.error.hint
    assert k8s_sim.get_object("deployments.apps", NS, "solo") is None
    assert k8s_sim.get_object("serviceaccounts", NS, "solo") is None
    warnings = " ".join(failed.messages(EventType.WARNING))
    assert "the first deploy failed" in warnings
    if kind == "CrashLoopBackOff":
        assert any("solo-" in line for line in failed.messages(EventType.LOG))


def test_k8s_a_failing_readiness_probe_times_out_with_its_class(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["services"] = [_single("example.org/unready")]
    k8s_sim.faults.add_pod(PodFault(kind="ReadinessFailure", image="unready"))

    failed = k8s_deploy(doc, job_id="f", rollout_timeout=2.0)

    assert failed.result.status is JobStatus.FAILED
    assert failed.result.error is not None
    assert "did not become ready within 2s" in failed.result.error.message
    assert "Readiness probe failed" in failed.result.error.message


def test_k8s_a_rollout_wait_honours_cancellation(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["services"] = [_single("example.org/unready")]
    k8s_sim.faults.add_pod(PodFault(kind="ReadinessFailure", image="unready"))
    token = CancelToken()
    timer = threading.Timer(1.0, token.cancel)
    timer.start()
    started = time.monotonic()

    result = k8s_deploy(doc, job_id="c", cancel=token).result

    timer.join()
    assert result.status is JobStatus.CANCELLED
    assert time.monotonic() - started < 8


def test_k8s_on_delete_jobs_run_before_the_environment_goes(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    doc = example("quickstart")
    doc["environment"]["delete_data"] = True
    doc["environment"]["services"].append(
        {
            "kind": "job",
            "name": "farewell",
            "schedule": {"on": "on_delete"},
            "image": "example.org/farewell",
            "tag": "1",
        }
    )
    deployed = k8s_deploy(doc, job_id="d").result
    assert deployed.status is JobStatus.SUCCEEDED, deployed.error
    assert not [j for j in k8s_sim.objects("jobs.batch", NS) if "farewell" in j["metadata"]["name"]]

    deleted = k8s_deploy(doc, job_id="x", action="delete")

    assert deleted.result.status is JobStatus.SUCCEEDED, deleted.result.error
    order = [(c.kind, c.name) for c in deleted.result.changes]
    farewell = next(i for i, (kind, name) in enumerate(order) if name.startswith("farewell-"))
    assert order[farewell][0] == "Job"
    assert farewell < order.index(("Namespace", NS))
    assert "farewell: job " in " ".join(deleted.messages(EventType.STEP_PROGRESS))
    assert k8s_sim.get_object("namespaces", "", NS) is None


def test_k8s_environment_status_is_read_from_the_cluster(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    from k8s_support import sim_settings
    from qengine_kubernetes.access import connect
    from qengine_kubernetes.spec import SandboxTarget
    from qengine_kubernetes.status import environment_status

    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="s1").result.status is JobStatus.SUCCEEDED
    assert k8s_deploy(doc, job_id="s2", action="pause").result.status is JobStatus.SUCCEEDED
    api = connect(SandboxTarget(kind="sandbox"), sim_settings(k8s_sim))

    status = {s.name: s for s in environment_status(api, NS)}

    assert sorted(status) == ["db", "migrate", "nightly-report", "public", "web", "worker"]
    assert status["web"].revision == 1
    assert status["web"].job_id == "s1"
    assert status["web"].paused
    assert (status["web"].ready, status["web"].desired) == (0, 0)
