"""A re-run after ``kill -9`` or SIGTERM never reports success on a broken rollout.

Real ``qengine run`` processes, killed at many moments of a quickstart deploy, then run again
(the same job: it resumes) against the simulator the test started: the re-run ends with the
environment ready and exit 0, or exit 1 with a rollback, and leaves the cluster as a clean
deploy does.
"""

from __future__ import annotations

import concurrent.futures
import signal
import time
from pathlib import Path

import pytest
from k8s_processes import (
    NS,
    Finished,
    cluster,
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
from k8s_support import DEMO_SECRETS, sim_settings

from qengine import Engine, Event, EventType, PluginSet
from qengine.runner import JobStatus, MemoryStateStore
from qengine.testing.kube import KubeSimulator, PodFault

JOB = "quickstart-0001"
READINESS = 0.5  # slow enough for every kill point to land inside a rollout
STEP = 0.2


def _clean_deploy(tmp: Path) -> tuple[dict[str, dict[str, object]], float]:
    """The cluster a clean deploy leaves, and how long the deploy took from its first request."""
    with KubeSimulator(readiness_delay=READINESS) as sim:
        process = start(write_spec(tmp, quickstart(sim), JOB), tmp / "state")
        wait_until(lambda: bool(sim.requests()), what="the first request")
        began = time.monotonic()
        done = finish(process)
        took = time.monotonic() - began
        assert done.code == 0, done.describe()
        assert not_ready(sim) == []
        return cluster(sim), took


def _kill_then_rerun(tmp: Path, sig: signal.Signals, after: float) -> tuple[Finished, Finished]:
    with KubeSimulator(readiness_delay=READINESS) as sim:
        spec = write_spec(tmp, quickstart(sim), JOB)
        state = tmp / "state"
        process = start(spec, state)
        wait_until(lambda: bool(sim.requests()), what="the first request")
        time.sleep(after)
        kill(process, sig)
        first = finish(process)
        again = run(spec, state)
        assert not_ready(sim) == [], (after, again.describe())
        return first, attach(again, cluster(sim))


def attach(done: Finished, state: dict[str, dict[str, object]]) -> Finished:
    """``done`` with the cluster it left in its result (for the comparison)."""
    return Finished(code=done.code, result={**done.result, "cluster": state}, stderr=done.stderr)


@pytest.mark.parametrize(
    ("sig", "offset"), [(signal.SIGKILL, 0.0), (signal.SIGTERM, STEP)], ids=["kill-9", "SIGTERM"]
)
def test_k8s_a_rerun_after_a_kill_at_any_moment_ends_like_a_clean_deploy(
    tmp_path: Path, sig: signal.Signals, offset: float
) -> None:
    """Kill points every 0.2 s across the deploy, alternately ``kill -9`` and SIGTERM (each
    signal every 0.4 s), from the run's first request to past its end."""
    reference, took = _clean_deploy(tmp_path / "clean")
    points = [round(offset + n * 2 * STEP, 2) for n in range(int(took / (2 * STEP)) + 2)]
    outcomes: dict[float, int] = {}
    # A few at a time, each on its own simulator: the runs mostly wait for readiness.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        runs = {
            after: pool.submit(_kill_then_rerun, tmp_path / f"at-{after}", sig, after)
            for after in points
        }
    for after, future in runs.items():
        first, again = future.result()
        outcomes[after] = first.code
        allowed = {0, -sig, 3} if sig is signal.SIGTERM else {0, -sig}
        assert first.code in allowed, (after, first.describe())
        if sig is signal.SIGTERM and first.code == -sig:
            # Only a signal landing after the job ended (its result printed, the handlers
            # gone) kills the process: the job succeeded all the same.
            assert first.result.get("status") == "succeeded", (after, first.describe())
        if first.code == 3:
            assert first.result["status"] == "cancelled"
            # Every service it touched was rolled back; only the steps with nothing to undo
            # them are left (the namespace, and pruning when the signal came that late).
            left = set(first.result["left_in_place"])
            assert left <= {"kubernetes/namespace", "kubernetes/prune"}, first.describe()
        assert again.code == 0, (after, again.describe())
        assert again.result["cluster"] == reference, after
    # The sweep covered the deploy: most kills landed before it ended.
    interrupted = [after for after, code in outcomes.items() if code not in (0, -signal.SIGTERM)]
    assert len(interrupted) >= len(points) // 2, outcomes


def test_k8s_a_rerun_after_a_kill_during_a_rollout_to_a_bad_image_does_not_succeed(
    tmp_path: Path,
) -> None:
    with KubeSimulator(readiness_delay=0.05) as sim:
        state = tmp_path / "state"
        good = run(write_spec(tmp_path, quickstart(sim), "good"), state)
        assert good.code == 0, good.describe()
        sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="no-such-image"))
        bad_doc = quickstart(sim, web={"image": "ghcr.io/example/no-such-image"})
        bad = write_spec(tmp_path, bad_doc, "bad")
        process = start(bad, state)
        wait_until(
            lambda: "no-such-image" in image_of(sim, "deployments.apps", "web"),
            what="the bad image applied",
        )
        kill(process, signal.SIGKILL)
        assert finish(process).code == -signal.SIGKILL

        again = run(bad, state)

        assert again.code == 1, again.describe()
        assert again.result["status"] == "failed"
        assert "cannot be pulled" in again.result["error"]["message"]
        assert image_of(sim, "deployments.apps", "web") == "ghcr.io/example/shop-api:1.4.2"
        assert "rolled back to revision 1" in again.stderr
        assert history_of(sim, "web") == [(1, "good")]
        assert not_ready(sim) == []


def test_k8s_a_rerun_after_a_kill_during_the_database_rollout_records_its_revision(
    tmp_path: Path, k8s_plugins: PluginSet
) -> None:
    with KubeSimulator(readiness_delay=1.5) as sim:
        state = tmp_path / "state"
        spec = write_spec(tmp_path, quickstart(sim), "first")
        process = start(spec, state)
        wait_until(
            lambda: sim.get_object("statefulsets.apps", NS, "db") is not None,
            what="the database's StatefulSet",
        )
        kill(process, signal.SIGKILL)
        assert finish(process).code == -signal.SIGKILL
        assert history_of(sim, "db") == []

        again = run(spec, state)

        assert again.code == 0, again.describe()
        assert history_of(sim, "db") == [(1, "first")]
        assert not_ready(sim) == []
        # A later upgrade that fails is rolled back to that revision, not deleted.
        sim.faults.add_pod(PodFault(kind="ImagePullBackOff", image="postgres:17"))
        upgrade = quickstart(sim, db={"version": "17"})
        engine = Engine(
            k8s_plugins,
            store=MemoryStateStore(),
            settings={"kubernetes": sim_settings(sim, rollout_timeout=3.0)},
        )
        events: list[Event] = []
        result = engine.run(
            {**upgrade, "id": "upgrade"}, on_event=events.append, sandbox_secrets=DEMO_SECRETS
        )
        assert result.status is JobStatus.FAILED
        warnings = [e.message for e in events if e.type is EventType.WARNING]
        assert any("revision 1" in w for w in warnings), warnings
        assert not any("the first deploy failed" in w for w in warnings), warnings
        assert image_of(sim, "statefulsets.apps", "db") == "docker.io/library/postgres:16"
        assert sim.get_object("statefulsets.apps", NS, "db") is not None
        assert history_of(sim, "db") == [(1, "first")]
