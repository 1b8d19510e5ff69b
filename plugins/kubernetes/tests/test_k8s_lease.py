"""The environment's Lease on its cluster: a lock that every engine reaching the cluster sees,
whatever its state directory. Real processes where two engines compete; the simulator serves
the Lease API as a cluster does (optimistic concurrency on resourceVersion)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_processes import NS, finish, quickstart, run, start, wait_until, write_spec
from k8s_support import DEMO_SECRETS, sim_settings
from qengine_kubernetes.access import connect
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.lease import JOB_ANNOTATION, micro_time
from qengine_kubernetes.spec import SandboxTarget

from qengine import Engine, Event, EventType, PluginSet
from qengine.plugin import TargetLockedError
from qengine.runner import JobStatus, MemoryStateStore
from qengine.testing.kube import KubeSimulator

LEASES = "leases.coordination.k8s.io"


def _lease(sim: KubeSimulator) -> dict[str, Any] | None:
    return sim.get_object(LEASES, "qengine-system", NS)


def test_k8s_two_engines_with_their_own_state_dirs_do_not_both_run_one_environment(
    tmp_path: Path,
) -> None:
    with KubeSimulator(readiness_delay=1.0) as sim:
        first = start(write_spec(tmp_path, quickstart(sim), "first"), tmp_path / "state-a")
        wait_until(lambda: _lease(sim) is not None, what="the first job's Lease")

        second = run(write_spec(tmp_path, quickstart(sim), "second"), tmp_path / "state-b")

        assert second.code == 4, second.describe()
        assert "is held by job first (pid" in second.stderr
        done = finish(first)
        assert done.code == 0, done.describe()
        assert _lease(sim) is None  # released at the end
        # The refused job changed nothing: every write came from the first one.
        again = run(write_spec(tmp_path, quickstart(sim), "third"), tmp_path / "state-b")
        assert again.code == 0, again.describe()


def test_k8s_a_lapsed_lease_of_a_killed_job_is_taken_over(
    k8s_plugins: PluginSet, k8s_sim: KubeSimulator, example: Callable[[str], Any]
) -> None:
    k8s_sim.create_object(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "qengine-system"}}
    )
    stale = micro_time(time.time() - 120)
    k8s_sim.create_object(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": NS,
                "namespace": "qengine-system",
                "annotations": {JOB_ANNOTATION: "killed-job"},
            },
            "spec": {
                "holderIdentity": "job killed-job (pid 1 on elsewhere)",
                "leaseDurationSeconds": 30,
                "renewTime": stale,
                "acquireTime": stale,
                "leaseTransitions": 0,
            },
        }
    )
    engine = Engine(
        k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": sim_settings(k8s_sim)}
    )
    seen: list[dict[str, Any]] = []

    def watch(event: Event) -> None:
        if event.type is EventType.JOB_STARTED:
            lease = _lease(k8s_sim)
            if lease is not None:
                seen.append(lease)

    result = engine.run(
        {**example("quickstart"), "id": "taker"}, sandbox_secrets=DEMO_SECRETS, on_event=watch
    )

    assert result.status is JobStatus.SUCCEEDED, result.error
    assert seen
    assert seen[0]["spec"]["holderIdentity"].startswith("job taker (pid")
    assert seen[0]["spec"]["leaseTransitions"] == 1


def _api(sim: KubeSimulator) -> KubeApi:
    return connect(SandboxTarget(kind="sandbox"), sim_settings(sim))


def _in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", fn()))
    thread.start()
    return thread, out


def test_k8s_a_live_lease_is_renewed_and_a_second_engine_waits_for_it(
    k8s_plugins: PluginSet, example: Callable[[str], Any]
) -> None:
    """A job longer than its Lease's duration keeps it by renewing; an engine with its own
    store is refused while it runs, and a waiting one gets the Lease when it ends."""
    doc = example("quickstart")
    with KubeSimulator(readiness_delay=3.0) as sim:
        settings = sim_settings(sim, lease_seconds=3.0)

        def engine() -> Engine:
            return Engine(k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": settings})

        first, out = _in_thread(
            lambda: engine().run({**doc, "id": "long"}, sandbox_secrets=DEMO_SECRETS)
        )
        wait_until(lambda: _lease(sim) is not None, what="the Lease")
        taken = _lease(sim)
        assert taken is not None
        wait_until(
            lambda: (_lease(sim) or taken)["spec"]["renewTime"] != taken["spec"]["renewTime"],
            seconds=10,
            what="a renewal",
        )

        with pytest.raises(TargetLockedError) as refused:
            engine().run({**doc, "id": "other"}, sandbox_secrets=DEMO_SECRETS)
        assert "job long (pid" in str(refused.value)

        waited = engine().run({**doc, "id": "patient"}, sandbox_secrets=DEMO_SECRETS, wait_lock=120)
        first.join(timeout=60)
        assert out["result"].status is JobStatus.SUCCEEDED, out["result"].error
        assert waited.status is JobStatus.SUCCEEDED, waited.error


def test_k8s_a_job_that_lost_its_lease_stops_without_rollback(
    k8s_plugins: PluginSet, example: Callable[[str], Any]
) -> None:
    with KubeSimulator(readiness_delay=8.0) as sim:
        settings = sim_settings(sim, lease_seconds=3.0)
        engine = Engine(k8s_plugins, store=MemoryStateStore(), settings={"kubernetes": settings})
        events: list[Event] = []
        job, out = _in_thread(
            lambda: engine.run(
                {**example("quickstart"), "id": "loser"},
                sandbox_secrets=DEMO_SECRETS,
                on_event=events.append,
            )
        )
        wait_until(lambda: _lease(sim) is not None, what="the Lease")
        lease = _lease(sim)
        assert lease is not None
        # Another engine took it over (as after a lapse the loser did not notice).
        lease["metadata"]["annotations"] = {JOB_ANNOTATION: "thief"}
        lease["spec"]["holderIdentity"] = "job thief (pid 2 on elsewhere)"
        _api(sim).replace(lease)
        job.join(timeout=60)

        result = out["result"]
        assert result.status is JobStatus.CANCELLED
        warnings = [e.message for e in events if e.type is EventType.WARNING]
        assert any("lost Lease qengine-system/" in w for w in warnings), warnings
        assert result.rolled_back == ()
        still = _lease(sim)
        assert still is not None
        assert still["metadata"]["annotations"][JOB_ANNOTATION] == "thief"
