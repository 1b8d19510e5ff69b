"""A rollback that a stuck pod of the bad revision would block is forced: a StatefulSet (the
default OrderedReady policy) never replaces a pod that is not Ready, so the engine deletes the
pods of the bad revision that are not Ready, as the upstream forced-rollback procedure asks,
and the database comes back on its previous revision within the step, not after the rollout
timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from k8s_support import Deploy, sim_settings
from qengine_kubernetes.access import connect
from qengine_kubernetes.spec import SandboxTarget

from qengine import EventType
from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

NS = "qe-quickstart-1a5010"


def _statefulset(sim: KubeSimulator) -> dict[str, Any]:
    live = sim.get_object("statefulsets.apps", NS, "db")
    assert live is not None
    return live


def _pods(sim: KubeSimulator) -> list[dict[str, Any]]:
    return [
        p
        for p in sim.objects("pods", NS)
        if p["metadata"]["name"].startswith("db-") and not p["metadata"].get("deletionTimestamp")
    ]


@pytest.mark.parametrize("fault", ["CrashLoopBackOff", "ImagePullBackOff"])
def test_k8s_a_stuck_statefulset_rollback_is_forced_and_the_database_is_back(
    fault: str, k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Callable[[str], Any]
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="first").result.status is JobStatus.SUCCEEDED
    good = _statefulset(k8s_sim)["status"]["updateRevision"]
    k8s_sim.faults.add_pod(PodFault(kind=fault, image="postgres:17"))
    doc["environment"]["services"][0]["version"] = "17"

    upgrade = k8s_deploy(doc, job_id="bad-upgrade")

    assert upgrade.result.status is JobStatus.FAILED
    warnings = upgrade.messages(EventType.WARNING)
    assert any("forced rollback" in w and "db-0" in w for w in warnings), warnings
    assert any("db: rolled back to revision 1" in w for w in warnings), warnings
    assert not any("did not settle" in w for w in warnings), warnings
    live = _statefulset(k8s_sim)
    container = live["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith("postgres:16")
    status = live["status"]
    assert status["updateRevision"] == status["currentRevision"] == good
    assert status.get("readyReplicas") == 1
    pods = _pods(k8s_sim)
    assert [p["metadata"]["labels"]["controller-revision-hash"] for p in pods] == [good]


def test_k8s_the_simulator_keeps_current_revision_until_a_rollout_completes(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Callable[[str], Any]
) -> None:
    """What makes the stuck case visible: during a blocked rollout the set reports the two
    revisions apart, as a real StatefulSet does."""
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="first").result.status is JobStatus.SUCCEEDED
    k8s_sim.faults.add_pod(PodFault(kind="CrashLoopBackOff", image="postgres:17"))
    good = _statefulset(k8s_sim)["status"]["currentRevision"]
    api = connect(SandboxTarget(kind="sandbox"), sim_settings(k8s_sim))
    template = {"spec": {"containers": [{"name": "postgresql", "image": "postgres:17"}]}}
    live = _statefulset(k8s_sim)
    containers = live["spec"]["template"]["spec"]["containers"]
    template["spec"]["containers"][0]["name"] = containers[0]["name"]
    api.merge_patch("StatefulSet", NS, "db", {"spec": {"template": template}})

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = _statefulset(k8s_sim).get("status") or {}
        crashing = [
            p for p in _pods(k8s_sim) if p["metadata"]["labels"]["controller-revision-hash"] != good
        ]
        if crashing and status.get("updateRevision") != good:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # the set stays stuck: nothing moves it on
    status = _statefulset(k8s_sim)["status"]

    assert status["currentRevision"] == good
    assert status["updateRevision"] != good
    assert status.get("readyReplicas", 0) == 0
