"""PostgreSQL and Redis restarted under running workers: every job ends once with the right
status, no finished step runs again, no two runs on one target overlap, nothing is left over.

Real workers, a real redis-server (with its append-only file) and PostgreSQL, the Kubernetes
simulator. Triggers in the test's database keep the history of every journal write and of
every final status, so attempts that ended in an error (whose events no result keeps) are
checked too.
"""

from __future__ import annotations

import collections
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
import redis as redis_client
from celery import Celery
from celery_support import StartWorkers, Worker, container_job, dump
from qengine_celery import submit_job

from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.kube import KubeSimulator
from qengine.testing.postgres import LocalPostgres
from qengine.testing.redis_server import LocalRedis

WORKERS, TARGETS, JOBS = 3, 2, 24
STEPS = ["kubernetes/namespace", "kubernetes/service/web", "kubernetes/prune"]
SERVICE = "kubernetes/service/web"
DOWN_SECONDS = 4.0

_HISTORY = """
CREATE TABLE step_history (
    n BIGSERIAL PRIMARY KEY, job_id TEXT, step_id TEXT, status TEXT, fence BIGINT);
CREATE TABLE finish_history (n BIGSERIAL PRIMARY KEY, job_id TEXT, status TEXT);
CREATE FUNCTION note_step() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO step_history (job_id, step_id, status, fence)
        VALUES (NEW.job_id, NEW.step_id, NEW.status, NEW.fence);
    RETURN NEW; END $$;
CREATE FUNCTION note_finish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO finish_history (job_id, status) VALUES (NEW.job_id, NEW.status);
    RETURN NEW; END $$;
CREATE TRIGGER note_step AFTER INSERT OR UPDATE ON qengine_steps
    FOR EACH ROW EXECUTE FUNCTION note_step();
CREATE TRIGGER note_finish AFTER INSERT OR UPDATE ON qengine_finished_jobs
    FOR EACH ROW EXECUTE FUNCTION note_finish();
"""


@pytest.fixture
def history(postgres: LocalPostgres, pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the test's database, whose journal writes are kept in history tables."""
    PostgresStateStore(pg_url, password_file=postgres.password_file).close()  # the schema
    with psycopg.connect(pg_url, password=postgres.password, autocommit=True) as db:
        db.execute(_HISTORY)
    # Closed once the batch runs; the checks open their own (the server may have restarted).
    db = psycopg.connect(pg_url, password=postgres.password, autocommit=True)
    yield db
    db.close()


def _finished(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) FROM qengine_finished_jobs").fetchone()
    return int(row[0]) if row else 0


def _in_a_step(db: psycopg.Connection[Any]) -> bool:
    """Whether a job holding its target is in the middle of a step."""
    row = db.execute(
        "SELECT count(*) FROM qengine_steps s JOIN qengine_locks l ON l.owner = s.job_id "
        "WHERE s.status = 'started'"
    ).fetchone()
    return row is not None and int(row[0]) > 0


def _run_batch(
    start_workers: StartWorkers,
    app: Celery,
    history: psycopg.Connection[Any],
    restart: Callable[[], None],
) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[Worker]]:
    """Submit the batch; call ``restart`` once a few jobs ended, while another is in the middle
    of a step and others wait in the queue; collect every result and what the cluster holds."""
    with KubeSimulator(readiness_delay=0.5) as sim:
        workers = start_workers(WORKERS)
        jobs = [
            container_job(f"job-{n:02}", f"env-{n % TARGETS}", sim.kubeconfig_path, f"1.{n}")
            for n in range(JOBS)
        ]
        handles = [submit_job(app, job) for job in jobs]
        deadline = time.monotonic() + 120
        while _finished(history) < WORKERS or not _in_a_step(history):
            assert time.monotonic() < deadline, "the batch did not start"
            time.sleep(0.02)
        history.close()
        restart()
        results = []
        for handle in handles:
            try:
                results.append(handle.get(timeout=240))
            except Exception as exc:  # for the message: what the workers said
                logs = "\n".join(w.text()[-4000:] for w in workers)
                raise AssertionError(f"{handle.id}: {exc!r}\n{logs}") from exc
        cluster = {kind: sim.objects(kind) for kind in ("namespaces", "deployments.apps", "pods")}
    return results, cluster, workers


def _check(
    jobs_results: list[dict[str, Any]],
    cluster: dict[str, list[dict[str, Any]]],
    postgres: LocalPostgres,
    pg_url: str,
) -> int:
    """Every job succeeded once, the journal's history shows no finished step run again and
    no overlap on a target, the cluster holds one deployment per target, nothing is left.
    Returns how many runs there were (a job interrupted and resumed has two or more)."""
    for result in jobs_results:
        assert result["status"] == "succeeded", dump(result)
    job_ids = sorted(result["job_id"] for result in jobs_results)
    assert job_ids == [f"job-{n:02}" for n in range(JOBS)]
    target_of = {f"job-{n:02}": f"env-{n % TARGETS}" for n in range(JOBS)}
    with psycopg.connect(pg_url, password=postgres.password, autocommit=True) as db:
        finishes = db.execute("SELECT job_id, status FROM finish_history ORDER BY n").fetchall()
        writes = db.execute(
            "SELECT n, job_id, step_id, status, fence FROM step_history ORDER BY n"
        ).fetchall()
        steps = db.execute("SELECT job_id, step_id, status FROM qengine_steps").fetchall()
        live_locks = db.execute(
            "SELECT target, owner FROM qengine_locks WHERE expires_at > clock_timestamp()"
        ).fetchall()

    # Every job's final status was written once, and it is "succeeded".
    assert sorted(finishes) == [(job_id, "succeeded") for job_id in job_ids]
    # The journal: every step of every job, once, succeeded.
    assert sorted(steps) == sorted(
        (job_id, step, "succeeded") for job_id in job_ids for step in STEPS
    )
    # No finished step was started again: per step, "started" (more than once when an
    # interrupted run's step was reconciled by the resumed run), then "succeeded" once, last.
    statuses: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for _, job_id, step, status, _ in writes:
        statuses[(job_id, step)].append(status)
    for key, seen in statuses.items():
        assert seen[-1] == "succeeded", (key, seen)
        assert set(seen[:-1]) <= {"started"}, (key, seen)
    # No two runs on one target overlap: a run is the writes of one job under one fencing
    # token; on a target, each run's writes end before the next run's begin.
    runs: dict[tuple[str, str, int], list[int]] = collections.defaultdict(list)
    for n, job_id, _, _, fence in writes:
        runs[(target_of[job_id], job_id, fence)].append(n)
    by_target: dict[str, list[tuple[int, int, int, str]]] = collections.defaultdict(list)
    for (target, job_id, fence), ns in runs.items():
        assert fence > 0, (job_id, "written without a lease")
        by_target[target].append((min(ns), max(ns), fence, job_id))
    for target, spans in by_target.items():
        spans.sort()
        for earlier, later in itertools.pairwise(spans):
            assert earlier[1] < later[0], f"{target}: {earlier} overlaps {later}"
            assert earlier[2] < later[2], f"{target}: fences out of order {earlier} {later}"
    # No lock is held. (A release cut off by the restart, after the job's end was recorded,
    # leaves a row whose lease has lapsed: the next job of the target takes it over.)
    assert live_locks == [], live_locks

    # The cluster: one namespace and one deployment per target, carrying the tag of the job
    # that applied the service last (by the journal's history), and nothing else.
    applied_last: dict[str, str] = {}
    for _, job_id, step, status, _ in writes:
        if step == SERVICE and status == "succeeded":
            applied_last[target_of[job_id]] = job_id
    for env_id, job_id in applied_last.items():
        names = [
            n["metadata"]["name"]
            for n in cluster["namespaces"]
            if n["metadata"]["name"].startswith(f"qe-{env_id}-")
        ]
        assert len(names) == 1, (env_id, names)
        deployments = [
            d for d in cluster["deployments.apps"] if d["metadata"]["namespace"] in names
        ]
        assert [d["metadata"]["name"] for d in deployments] == ["web"], env_id
        image = deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(f":1.{int(job_id.rsplit('-', 1)[1])}"), (env_id, job_id, image)
    assert len(applied_last) == TARGETS
    assert len(cluster["deployments.apps"]) == TARGETS
    return len(runs)


def test_postgres_restarted_under_running_workers(
    start_workers: StartWorkers,
    app: Celery,
    postgres: LocalPostgres,
    pg_url: str,
    history: psycopg.Connection[Any],
) -> None:
    def restart() -> None:
        postgres.stop("fast")  # clients are disconnected, as in a real restart
        try:
            time.sleep(DOWN_SECONDS)
        finally:
            postgres.start()

    results, cluster, _ = _run_batch(start_workers, app, history, restart)
    runs = _check(results, cluster, postgres, pg_url)
    # The restart stopped runs in the middle (they were resumed): the test proved something.
    assert runs > JOBS, "the restart interrupted no run"


def test_redis_restarted_under_running_workers(
    start_workers: StartWorkers,
    app: Celery,
    redis: LocalRedis,
    postgres: LocalPostgres,
    pg_url: str,
    history: psycopg.Connection[Any],
) -> None:
    seen: dict[str, int] = {}

    def restart() -> None:
        broker = redis_client.Redis(host="127.0.0.1", port=redis.port)
        seen["queued"] = int(broker.llen("qengine"))
        seen["unacked"] = int(broker.hlen("unacked"))
        broker.close()
        redis.restart(down_seconds=DOWN_SECONDS)

    results, cluster, _ = _run_batch(start_workers, app, history, restart)
    # The restart found messages waiting in the queue and messages taken by workers and not
    # acknowledged yet: the append-only file kept both.
    assert seen["queued"] > 0, seen
    assert seen["unacked"] > 0, seen
    _check(results, cluster, postgres, pg_url)


def test_a_retry_asked_for_while_redis_is_down_is_not_lost(
    start_workers: StartWorkers,
    app: Celery,
    redis: LocalRedis,
    postgres: LocalPostgres,
    pg_url: str,
) -> None:
    """A job that finds its target busy asks Celery for a retry (a new message): when the
    broker is down at that moment, the retry waits for it instead of dropping the job."""
    with KubeSimulator(readiness_delay=5.0) as sim:
        start_workers(2)
        first = submit_job(app, container_job("job-hold", "env-r", sim.kubeconfig_path))
        store = PostgresStateStore(pg_url, password_file=postgres.password_file)
        try:
            deadline = time.monotonic() + 60
            while store.lock_holder("environment/env-r") is None:
                assert time.monotonic() < deadline, "the first job never took its target"
                time.sleep(0.05)
            second = submit_job(app, container_job("job-wait", "env-r", sim.kubeconfig_path, "2"))
            while store.lock_holder("job/job-wait") is None:
                assert time.monotonic() < deadline, "the second job never started"
                time.sleep(0.02)
            # It waits 1 s for the target (held for 5 s more), then asks for its retry.
            redis.restart(down_seconds=DOWN_SECONDS)
            results = [first.get(timeout=120), second.get(timeout=120)]
            assert store.job_status("job-wait") == "succeeded"
        finally:
            store.close()
    assert [r["status"] for r in results] == ["succeeded", "succeeded"], dump(results[1])


def test_a_job_retried_many_times_for_its_target_still_outlives_a_postgres_restart(
    start_workers: StartWorkers,
    app: Celery,
    postgres: LocalPostgres,
    pg_url: str,
) -> None:
    """Retries for a busy target and retries while the store is away are counted apart: a
    job that waited long for its target is not failed by the first restart that follows."""
    with KubeSimulator(readiness_delay=8.0) as sim:
        workers = start_workers(2, QENGINE_LOCK_WAIT="0.05", QENGINE_LOCK_RETRY_DELAY="0.05")
        first = submit_job(app, container_job("job-long", "env-l", sim.kubeconfig_path))
        store = PostgresStateStore(pg_url, password_file=postgres.password_file)
        try:
            deadline = time.monotonic() + 60
            while store.lock_holder("environment/env-l") is None:
                assert time.monotonic() < deadline, "the first job never took its target"
                time.sleep(0.05)
            second = submit_job(app, container_job("job-many", "env-l", sim.kubeconfig_path, "2"))
            # More retries for the busy target than the task allows for the store's absence.
            while sum(w.text().count("job-many] retry") for w in workers) <= 25:
                assert time.monotonic() < deadline, "the second job was not retried"
                time.sleep(0.05)
        finally:
            store.close()
        postgres.stop("fast")
        try:
            time.sleep(2)
        finally:
            postgres.start()
        results = [first.get(timeout=120), second.get(timeout=120)]
    assert [r["status"] for r in results] == ["succeeded", "succeeded"], dump(results[1])
    store = PostgresStateStore(pg_url, password_file=postgres.password_file)
    assert store.job_status("job-many") == "succeeded"
    store.close()
