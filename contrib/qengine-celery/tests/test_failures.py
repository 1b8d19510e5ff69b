"""What happens when a worker dies, is paused past its lease, is revoked, or finds its target
busy: real workers, real redis-server and PostgreSQL, the Kubernetes simulator."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from celery_support import StartWorkers, Worker, container_job, dump, events_of
from qengine_celery import cancel_job, submit_job

from qengine.interfaces.state import StepState
from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.kube import KubeSimulator
from qengine.testing.postgres import LocalPostgres

SERVICE = "kubernetes/service/web"
# Redelivery of a dead worker's message after 4 s, its lease lapsing after 3 s.
FAST_FAILOVER = {"QENGINE_VISIBILITY_TIMEOUT": "4", "QENGINE_STATE_LEASE": "3"}


@pytest.fixture
def store(postgres: LocalPostgres, pg_url: str) -> Iterator[PostgresStateStore]:
    opened = PostgresStateStore(pg_url, password_file=postgres.password_file)
    yield opened
    opened.close()


def _wait_for_step(store: PostgresStateStore, job_id: str, step: str, state: StepState) -> None:
    deadline = time.monotonic() + 60
    while not any(r.step_id == step and r.status is state for r in store.step_records(job_id)):
        assert time.monotonic() < deadline, f"{job_id}: {step} never became {state}"
        time.sleep(0.05)


def _holder_worker(store: PostgresStateStore, target: str, workers: list[Worker]) -> Worker:
    holder = store.lock_holder(target)
    assert holder is not None
    owners = [w for w in workers if w.owns(holder.pid)]
    assert len(owners) == 1, holder
    return owners[0]


def _namespace_objects(sim: KubeSimulator, env_id: str, resource: str) -> list[dict[str, Any]]:
    return [
        o
        for o in sim.objects(resource)
        if o["metadata"].get("namespace", "").startswith(f"qe-{env_id}-")
    ]


def test_a_killed_workers_job_is_redelivered_and_resumed_elsewhere(
    start_workers: StartWorkers, app: Celery, store: PostgresStateStore
) -> None:
    with KubeSimulator(readiness_delay=4.0) as sim:
        workers = start_workers(2, **FAST_FAILOVER)
        job = container_job("job-kill", "env-kill", sim.kubeconfig_path)
        handle = submit_job(app, job)
        _wait_for_step(store, "job-kill", SERVICE, StepState.STARTED)
        victim = _holder_worker(store, "environment/env-kill", workers)
        victim.group_signal(signal.SIGKILL)
        victim.process.wait(timeout=10)
        result = handle.get(timeout=120)
        deployments = _namespace_objects(sim, "env-kill", "deployments.apps")
        replicasets = _namespace_objects(sim, "env-kill", "replicasets.apps")
        namespaces = [
            n for n in sim.objects("namespaces") if n["metadata"]["name"].startswith("qe-env-kill-")
        ]

    assert result["status"] == "succeeded", dump(result)
    survivor = next(w for w in workers if w is not victim)
    assert survivor.owns(int(result["worker"].rsplit(":", 1)[1]))
    # Finished steps were not redone; the one in flight was reconciled with the cluster.
    skipped = [e["step_id"] for e in events_of(result, "step.skipped")]
    assert skipped == ["kubernetes/namespace"]
    resumed = [e for e in events_of(result, "step.started") if e["step_id"] == SERVICE]
    assert resumed[0]["data"]["reconcile"] is True
    records = store.step_records("job-kill")
    assert {r.status for r in records} == {StepState.SUCCEEDED}
    assert store.job_status("job-kill") == "succeeded"
    assert store.lock_holder("environment/env-kill") is None
    # Nothing orphaned or doubled on the cluster.
    assert len(namespaces) == 1
    assert [d["metadata"]["name"] for d in deployments] == ["web"]
    assert len(replicasets) == 1


def test_a_worker_paused_past_its_lease_cannot_write_after_the_takeover(
    start_workers: StartWorkers, app: Celery, store: PostgresStateStore
) -> None:
    with KubeSimulator(readiness_delay=5.0) as sim:
        workers = start_workers(2, **FAST_FAILOVER)
        handle = submit_job(app, container_job("job-fence", "env-fence", sim.kubeconfig_path))
        _wait_for_step(store, "job-fence", SERVICE, StepState.STARTED)
        paused = _holder_worker(store, "environment/env-fence", workers)
        first = store.lock_holder("environment/env-fence")
        assert first is not None
        paused.group_signal(signal.SIGSTOP)
        try:
            result = handle.get(timeout=120)
        finally:
            paused.group_signal(signal.SIGCONT)
        deadline = time.monotonic() + 60
        while "lost its target lease" not in paused.text():
            assert time.monotonic() < deadline, paused.text()[-3000:]
            time.sleep(0.1)

    assert result["status"] == "succeeded", dump(result)
    assert not paused.owns(int(result["worker"].rsplit(":", 1)[1]))
    fences = store.step_fences("job-fence")
    # Written before the pause under the first lease; everything after under the new one.
    assert fences["kubernetes/namespace"] == first.fencing_token
    assert fences[SERVICE] > first.fencing_token
    assert fences["kubernetes/prune"] == fences[SERVICE]
    assert {r.status for r in store.step_records("job-fence")} == {StepState.SUCCEEDED}
    assert store.job_status("job-fence") == "succeeded"
    # The paused worker's task (retried, it finds the job finished) leaves the stored result
    # of the worker that ran the job in place.
    assert app.AsyncResult("job-fence").get(timeout=10)["worker"] == result["worker"]


def test_revoke_with_terminate_cancels_gracefully_and_rolls_back(
    start_workers: StartWorkers, app: Celery, store: PostgresStateStore
) -> None:
    with KubeSimulator(readiness_delay=60.0) as sim:
        start_workers(1)
        submit_job(app, container_job("job-revoke", "env-revoke", sim.kubeconfig_path))
        _wait_for_step(store, "job-revoke", SERVICE, StepState.STARTED)
        cancel_job(app, "job-revoke")
        deadline = time.monotonic() + 60
        while store.job_status("job-revoke") is None:
            assert time.monotonic() < deadline, "the revoked job never ended"
            time.sleep(0.1)
        left = _namespace_objects(sim, "env-revoke", "deployments.apps")
        # The worker goes on taking jobs.
        sim_fast = container_job("job-after", "env-after", sim.kubeconfig_path)
        sim_fast["environment"]["services"] = []
        after = submit_job(app, sim_fast).get(timeout=120)

    assert store.job_status("job-revoke") == "cancelled"
    statuses = {r.step_id: r.status for r in store.step_records("job-revoke")}
    # The interrupted service is rolled back (the namespace may be left in place).
    assert statuses[SERVICE] is StepState.COMPENSATED
    assert statuses["kubernetes/namespace"] in (StepState.SUCCEEDED, StepState.COMPENSATED)
    assert left == []
    assert after["status"] == "succeeded", dump(after)


def test_a_job_for_a_busy_target_waits_then_is_retried_by_celery(
    start_workers: StartWorkers, app: Celery, store: PostgresStateStore
) -> None:
    with KubeSimulator(readiness_delay=3.0) as sim:
        workers = start_workers(2, QENGINE_LOCK_WAIT="0.5", QENGINE_LOCK_RETRY_DELAY="0.2")
        first = submit_job(app, container_job("job-busy-1", "env-busy", sim.kubeconfig_path))
        _wait_for_step(store, "job-busy-1", SERVICE, StepState.STARTED)
        second = submit_job(
            app, container_job("job-busy-2", "env-busy", sim.kubeconfig_path, "2.0")
        )
        results = [first.get(timeout=120), second.get(timeout=120)]

    assert [r["status"] for r in results] == ["succeeded", "succeeded"], dump(results[1])
    ended = events_of(results[0], "job.finished")[0]["time"]
    began = events_of(results[1], "job.started")[0]["time"]
    assert ended < began
    logs = "".join(w.text() for w in workers)
    assert "job-busy-2" in logs
    assert "Retry in" in logs


def test_a_job_whose_lease_another_job_took_over_is_retried_and_resumed(
    start_workers: StartWorkers, app: Celery, store: PostgresStateStore
) -> None:
    """A worker that stops renewing its lease (paused here; cut off from PostgreSQL for
    longer than the lease is the same) can find that another job of its target took the
    lease over: its own message is not redelivered (no visibility timeout passed), so its
    task is retried, and the job resumes once the target is free."""
    with KubeSimulator(readiness_delay=5.0) as sim:
        workers = start_workers(2, QENGINE_STATE_LEASE="3")
        first = submit_job(app, container_job("job-a", "env-t", sim.kubeconfig_path))
        _wait_for_step(store, "job-a", SERVICE, StepState.STARTED)
        paused = _holder_worker(store, "environment/env-t", workers)
        paused.group_signal(signal.SIGSTOP)
        try:
            second = submit_job(
                app, container_job("job-b", "env-t", sim.kubeconfig_path, "2.0")
            ).get(timeout=120)
        finally:
            paused.group_signal(signal.SIGCONT)
        result = first.get(timeout=120)
        deployments = _namespace_objects(sim, "env-t", "deployments.apps")

    assert second["status"] == "succeeded", dump(second)
    assert result["status"] == "succeeded", dump(result)
    assert "lost its target lease" in paused.text()
    assert store.job_status("job-a") == "succeeded"
    fences = store.step_fences("job-a")
    assert fences[SERVICE] > store.step_fences("job-b")[SERVICE]  # resumed after job-b
    # The cluster holds what job-a, which ended last, deployed.
    assert len(deployments) == 1
    image = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.endswith(":1.0"), image
