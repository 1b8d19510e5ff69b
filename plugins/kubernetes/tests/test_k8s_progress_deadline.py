"""A Deployment whose controller gave up (Progressing=False, ProgressDeadlineExceeded) fails
its rollout at once, classified, instead of waiting out the engine's longer rollout timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from k8s_support import Deploy

from qengine.runner import JobStatus
from qengine.testing.kube import KubeSimulator, PodFault

NS = "qe-quickstart-1a5010"


def test_k8s_a_rollout_past_its_progress_deadline_fails_at_once(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Callable[[str], Any]
) -> None:
    k8s_sim.faults.add_pod(PodFault(kind="ReadinessFailure", image="shop-api"))
    stop = threading.Event()

    def expire_the_deadline() -> None:
        # Once web's pods exist, ten simulated minutes pass without progress. The controller
        # may record the pods' creation as progress only after a jump (a loaded machine): the
        # clock then jumps again until web's Deployment says its deadline passed.
        while not stop.wait(0.05):
            pods = [
                p for p in k8s_sim.objects("pods", NS) if p["metadata"]["name"].startswith("web-")
            ]
            if pods:
                k8s_sim.clock.advance(601)
                break
        while not stop.wait(0.5) and not _past_deadline(k8s_sim):
            k8s_sim.clock.advance(601)

    clock = threading.Thread(target=expire_the_deadline)
    clock.start()
    try:
        deployed = k8s_deploy(example("quickstart"), job_id="stalled")
    finally:
        stop.set()
        clock.join()

    result = deployed.result
    assert result.status is JobStatus.FAILED
    assert result.error is not None
    # Every Deployment rolling out when ten minutes passed is past its deadline (web, whose
    # pods never become ready, and possibly worker, caught mid-rollout by the jump).
    assert "exceeded its progress deadline (600s without progress)" in result.error.message
    assert result.error.kind == "RolloutError"
    assert k8s_sim.get_object("deployments.apps", NS, "web") is None  # a first deploy: deleted


def _past_deadline(sim: KubeSimulator) -> bool:
    web = sim.get_object("deployments.apps", NS, "web")
    conditions = (web or {}).get("status", {}).get("conditions", [])
    return any(c.get("reason") == "ProgressDeadlineExceeded" for c in conditions)
