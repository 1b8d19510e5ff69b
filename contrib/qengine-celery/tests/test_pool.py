"""Many jobs over several targets on a pool of real workers: each ends once, targets never
overlap, every step is journalled once."""

from __future__ import annotations

import collections
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
from celery import Celery
from celery_support import StartWorkers, container_job, dump, events_of
from qengine_celery import submit_job

from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.kube import KubeSimulator
from qengine.testing.postgres import LocalPostgres

WORKERS, TARGETS, JOBS = 3, 10, 100
STEPS = ["kubernetes/namespace", "kubernetes/service/web", "kubernetes/prune"]


def test_jobs_over_targets_run_once_each_without_overlap(
    start_workers: StartWorkers,
    app: Celery,
    postgres: LocalPostgres,
    pg_url: str,
    tmp_path: Path,
) -> None:
    with KubeSimulator(readiness_delay=0.05) as sim:
        start_workers(WORKERS)
        jobs = [
            container_job(f"job-{n:03}", f"env-{n % TARGETS}", sim.kubeconfig_path, f"1.{n}")
            for n in range(JOBS)
        ]
        pending = [submit_job(app, job) for job in jobs]
        results: dict[str, dict[str, Any]] = {}
        for handle in pending:
            results[handle.id] = handle.get(timeout=600)
        objects = {d["metadata"]["namespace"]: d for d in sim.objects("deployments.apps")}

    assert sorted(results) == sorted(job["id"] for job in jobs)
    for job_id, result in results.items():
        assert result["status"] == "succeeded", dump(result)
        assert result["job_id"] == job_id
        assert [s["step_id"] for s in result["steps"]] == STEPS
    workers = {result["worker"] for result in results.values()}
    assert len(workers) == WORKERS, "every worker took a share"

    # Each step of each job started once, in the whole pool.
    started = collections.Counter(
        (e["job_id"], e["step_id"])
        for result in results.values()
        for e in events_of(result, "step.started")
    )
    assert set(started.values()) == {1}
    assert len(started) == JOBS * len(STEPS)

    # No two jobs of one target overlap: job.started .. job.finished lie inside the lock.
    spans: dict[str, list[tuple[str, str, str]]] = collections.defaultdict(list)
    for result in results.values():
        begin = events_of(result, "job.started")[0]
        end = events_of(result, "job.finished")[0]
        spans[begin["target_id"]].append((begin["time"], end["time"], result["job_id"]))
    assert len(spans) == TARGETS
    for target, runs in spans.items():
        runs.sort()
        for earlier, later in itertools.pairwise(runs):
            assert earlier[1] < later[0], f"{target}: {earlier[2]} overlaps {later[2]}"

    # The cluster holds what the last job of each target deployed.
    assert len(objects) == TARGETS
    by_job = {job["id"]: job for job in jobs}
    for runs in spans.values():
        last = by_job[max(runs)[2]]
        env_name = last["environment"]["id"]
        tag = last["environment"]["services"][0]["tag"]
        deployed = [d for ns, d in objects.items() if ns.startswith(f"qe-{env_name}-")]
        assert len(deployed) == 1
        image = deployed[0]["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.endswith(f":{tag}"), (env_name, image)

    # The journal in PostgreSQL: every job finished, every step recorded once and succeeded.
    store = PostgresStateStore(pg_url, password_file=postgres.password_file)
    try:
        for job in jobs:
            assert store.job_status(job["id"]) == "succeeded"
            records = store.step_records(job["id"])
            assert [(r.step_id, r.status.value) for r in records] == [
                (step, "succeeded") for step in STEPS
            ]
    finally:
        store.close()
    with psycopg.connect(pg_url, password=postgres.password) as db:
        assert db.execute("SELECT count(*) FROM qengine_locks").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM qengine_steps").fetchone() == (JOBS * 3,)

    # Each worker process kept its own audit chain, which verifies; together they tell of
    # every job once.
    logs = sorted((tmp_path / "state").glob("audit-*.jsonl"))
    assert len(logs) == WORKERS
    finished = []
    for log in logs:
        verify = subprocess.run(
            [sys.executable, "-m", "qengine", "audit", "verify", str(log)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
        records = [json.loads(line) for line in log.read_text().splitlines()]
        finished += [r["job_id"] for r in records if r["action"] == "job.finished"]
    assert sorted(finished) == sorted(job["id"] for job in jobs)
