"""Cancelling an environment job rolls back what it changed, newest first, as a failure does.

SIGTERM to a real ``qengine run`` process, and ``CancelToken.cancel()`` from the embedding
API: the service interrupted mid-rollout goes back to its previous revision, then each service
the job completed, then the job ends with exit 3 and a recap of what was rolled back and what
was left. A second signal stops the rollback at once and says what was left.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from k8s_processes import (
    NS,
    events_of,
    finish,
    history_of,
    image_of,
    kill,
    not_ready,
    quickstart,
    run,
    start,
    wait_until,
    write_spec,
)
from k8s_support import DEMO_SECRETS, Deploy, mutating, sim_settings

from qengine import Engine, Event, EventType, PluginSet
from qengine.interfaces.cancel import CancelToken
from qengine.runner import JobStatus, MemoryStateStore
from qengine.testing.kube import ApiFault, KubeSimulator, PodFault

WEB = "kubernetes/service/web"
WORKER = "kubernetes/service/worker"
UNREADY = "shop-api:2.0.0"  # pods of this image never become ready


def _upgrade(sim: KubeSimulator) -> dict[str, Any]:
    """The quickstart with a new worker (rolls out) and a new web (never ready)."""
    sim.faults.add_pod(PodFault(kind="ReadinessFailure", image=UNREADY))
    return quickstart(sim, web={"tag": "2.0.0"}, worker={"tag": "1.4.3"})


def _started(events: Path, message: str) -> bool:
    return any(message in e["message"] for e in events_of(events))


def _deployed(tmp: Path, sim: KubeSimulator, state: Path) -> None:
    done = run(write_spec(tmp, quickstart(sim), "v1"), state)
    assert done.code == 0, done.describe()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_k8s_a_signal_mid_rollout_rolls_the_upgrade_back_newest_first(
    tmp_path: Path, sig: signal.Signals
) -> None:
    with KubeSimulator(readiness_delay=0.05) as sim:
        state, events = tmp_path / "state", tmp_path / "events.jsonl"
        _deployed(tmp_path, sim, state)
        process = start(write_spec(tmp_path, _upgrade(sim), "v2"), state, events)
        wait_until(lambda: _started(events, f"{WORKER} done"), what="the worker's rollout")
        wait_until(lambda: _started(events, "web: ready"), what="the web's rollout")
        sim.clear_requests()
        kill(process, sig)

        done = finish(process)

        assert done.code == 3, done.describe()
        result = done.result
        assert result["status"] == "cancelled"
        # Newest first: the service stopped mid-rollout, then those the job completed.
        assert result["rolled_back"][:2] == [WEB, WORKER], result["rolled_back"]
        # The namespace existed and the upgrade did not change it: nothing to undo there.
        assert result["rolled_back"][-1] == "kubernetes/namespace"
        assert result["left_in_place"] == []
        assert image_of(sim, "deployments.apps", "web") == "ghcr.io/example/shop-api:1.4.2"
        assert image_of(sim, "deployments.apps", "worker") == "ghcr.io/example/shop-worker:1.4.2"
        assert history_of(sim, "web") == [(1, "v1")]
        assert history_of(sim, "worker") == [(1, "v1")]
        assert not_ready(sim) == []
        # Services the job did not change were only read.
        writes = mutating(sim)
        assert writes
        assert all("web" in w or "worker" in w for w in writes), writes
        assert f"Rolled back: {WEB}, {WORKER}" in done.stderr
        assert "Left as it was" not in done.stderr


def test_k8s_a_cancelled_first_deploy_deletes_what_it_created(
    k8s_plugins: PluginSet, k8s_sim: KubeSimulator, example: Any
) -> None:
    """``CancelToken.cancel()`` from the embedding API, during the web's rollout."""
    k8s_sim.faults.add_pod(PodFault(kind="ReadinessFailure", image=UNREADY))
    doc = example("quickstart")
    next(s for s in doc["environment"]["services"] if s["name"] == "web")["tag"] = "2.0.0"
    token = CancelToken()

    def cancel_on_rollout(event: Event) -> None:
        if event.type is EventType.STEP_PROGRESS and event.message.startswith("web: ready"):
            token.cancel("cancelled by the host")

    engine = Engine(
        k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": sim_settings(k8s_sim)}
    )
    result = engine.run(
        {**doc, "id": "first"},
        on_event=cancel_on_rollout,
        cancel=token,
        sandbox_secrets=DEMO_SECRETS,
    )

    assert result.status is JobStatus.CANCELLED
    assert result.exit_code == 3
    assert set(result.rolled_back) >= {
        WEB,
        WORKER,
        "kubernetes/service/db",
        "kubernetes/service/migrate",
        "kubernetes/service/nightly-report",
    }
    # The namespace it created holds the database's claim, kept as a delete keeps it, so the
    # namespace stays too, and the recap says why.
    assert result.left_in_place == ("kubernetes/namespace",)
    for resource in ("deployments.apps", "statefulsets.apps", "jobs.batch", "cronjobs.batch"):
        assert k8s_sim.objects(resource, NS) == [], resource
    secrets = [s["metadata"]["name"] for s in k8s_sim.objects("secrets", NS)]
    assert not [s for s in secrets if s.startswith("qengine-history-")], secrets
    # The database's claim is kept, as a delete keeps it.
    claims = [c["metadata"]["name"] for c in k8s_sim.objects("persistentvolumeclaims", NS)]
    assert claims == ["data-db-0"]


def test_k8s_a_second_signal_stops_the_rollback_and_says_what_was_left(tmp_path: Path) -> None:
    with KubeSimulator(readiness_delay=0.05) as sim:
        state, events = tmp_path / "state", tmp_path / "events.jsonl"
        _deployed(tmp_path, sim, state)
        process = start(write_spec(tmp_path, _upgrade(sim), "v2"), state, events)
        wait_until(lambda: _started(events, "web: ready"), what="the web's rollout")
        # Rolling the web back hangs: the API answers its writes after 20 s.
        sim.faults.add_api(
            ApiFault(kind="slow", methods=("PATCH",), path_contains="deployments/web", delay=20)
        )
        sim.clear_requests()
        kill(process, signal.SIGTERM)
        # The web's rollback begins by reading its history (its deploy read it long before).
        wait_until(
            lambda: any(r.path.endswith("qengine-history-web") for r in sim.requests()),
            what="the web's rollback",
        )
        time.sleep(0.5)  # its write is on the way, and hangs
        kill(process, signal.SIGTERM)
        forced = time.monotonic()

        done = finish(process, timeout=30)

        assert time.monotonic() - forced < 8, done.describe()
        assert done.code == 3, done.describe()
        assert done.result["status"] == "cancelled"
        assert WEB in done.result["left_in_place"]
        assert WEB not in done.result["rolled_back"]
        assert "kubernetes/namespace" in done.result["left_in_place"]  # never reached
        assert "Left as it was:" in done.stderr
        assert f"rollback of {WEB} failed" in done.stderr
        assert "stopped by a forced cancellation" in done.stderr
        sim.faults.clear()


def test_k8s_a_failed_upgrade_rolls_back_every_service_it_changed(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Any
) -> None:
    doc = example("quickstart")
    assert k8s_deploy(doc, job_id="v1").result.status is JobStatus.SUCCEEDED
    k8s_sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="no-such-image"))
    services = {s["name"]: s for s in doc["environment"]["services"]}
    services["worker"]["tag"] = "1.4.3"
    services["web"]["image"] = "ghcr.io/example/no-such-image"

    failed = k8s_deploy(doc, job_id="v2").result

    assert failed.status is JobStatus.FAILED
    # Web and worker roll out side by side: which ended last (and is undone first) varies.
    assert set(failed.rolled_back[:2]) == {WEB, WORKER}, failed.rolled_back
    assert image_of(k8s_sim, "deployments.apps", "worker") == "ghcr.io/example/shop-worker:1.4.2"
    assert image_of(k8s_sim, "deployments.apps", "web") == "ghcr.io/example/shop-api:1.4.2"
    assert history_of(k8s_sim, "worker") == [(1, "v1")]


def test_k8s_a_cancelled_first_deploy_without_data_deletes_its_namespace(
    k8s_plugins: PluginSet, k8s_sim: KubeSimulator, example: Any
) -> None:
    k8s_sim.faults.add_pod(PodFault(kind="ReadinessFailure", image=UNREADY))
    doc = example("quickstart")
    services = doc["environment"]["services"]
    doc["environment"]["services"] = [s for s in services if s["name"] in ("web", "worker")]
    next(s for s in doc["environment"]["services"] if s["name"] == "web")["tag"] = "2.0.0"
    for service in doc["environment"]["services"]:
        service.pop("depends_on", None)
        service["env"] = {k: v for k, v in service.get("env", {}).items() if "{{" not in str(v)}
    token = CancelToken()

    def cancel_on_rollout(event: Event) -> None:
        if event.type is EventType.STEP_PROGRESS and event.message.startswith("web: ready"):
            token.cancel("cancelled by the host")

    engine = Engine(
        k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": sim_settings(k8s_sim)}
    )
    result = engine.run(
        {**doc, "id": "first"},
        on_event=cancel_on_rollout,
        cancel=token,
        sandbox_secrets=DEMO_SECRETS,
    )

    assert result.status is JobStatus.CANCELLED, result.error
    assert result.rolled_back[-1] == "kubernetes/namespace"
    assert result.left_in_place == ()
    namespace = k8s_sim.get_object("namespaces", "", NS)
    assert namespace is None or namespace["metadata"].get("deletionTimestamp")
