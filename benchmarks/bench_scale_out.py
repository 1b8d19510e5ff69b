"""Scale-out: jobs per minute through 1, 2 and 4 Celery workers against in-process runs, and
target lock latency on PostgreSQL against SQLite, all measured in one run.

    python3 benchmarks/bench_scale_out.py [--jobs 24] [--targets 6] [--runs 3] [--locks 200]

Starts a throwaway PostgreSQL, a redis-server and the Kubernetes simulator (pods ready after
50 ms) on 127.0.0.1. Each job deploys one container service to one of ``--targets``
environments. The baseline runs the same jobs one after the other in this process (the
SQLite store, and for reference the PostgreSQL one); the workers (``celery worker
--concurrency 1``) share the PostgreSQL store and the broker. Figures are medians of
``--runs`` batches, as jobs per minute and as the ratio to the in-process SQLite baseline.
Lock latency is one acquire plus one release of a free target, median over ``--locks``.
The machine's cores bound what more workers can give: the figures say what this machine did.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from qengine import Engine, load_plugins
from qengine.interfaces.state import StateStore
from qengine.runner import SqliteStateStore
from qengine.runner.pgstore import PostgresStateStore
from qengine.testing.kube import KubeSimulator
from qengine.testing.postgres import LocalPostgres, run_postgres
from qengine.testing.redis_server import LocalRedis, run_redis


def job(job_id: str, env_id: str, kubeconfig: Path, tag: str) -> dict[str, Any]:
    """One container service onto the simulator."""
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-bench"},
        "actor": {"id": "actor-bench"},
        "action": "deploy",
        "target": {"kind": "kubeconfig", "path": str(kubeconfig)},
        "environment": {
            "id": env_id,
            "name": env_id,
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "registry.example/web",
                    "tag": tag,
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def batch(label: str, count: int, targets: int, kubeconfig: Path) -> list[dict[str, Any]]:
    """``count`` jobs spread over ``targets`` environments, each a new image tag."""
    return [
        job(f"{label}-{n}", f"env-{n % targets}", kubeconfig, f"{label}.{n}") for n in range(count)
    ]


def per_minute(count: int, seconds: float) -> float:
    return count * 60.0 / seconds


def in_process(store: StateStore, jobs: list[dict[str, Any]]) -> float:
    """Jobs per minute, run one after the other by one engine in this process."""
    engine = Engine(load_plugins(environ={"QENGINE_PLUGINS": "kubernetes"}), store=store)
    started = time.perf_counter()
    for document in jobs:
        result = engine.run(document)
        assert result.exit_code == 0, result.error
    return per_minute(len(jobs), time.perf_counter() - started)


@contextmanager
def workers(count: int, redis: LocalRedis, pg: LocalPostgres, url: str) -> Iterator[None]:
    """``count`` celery workers sharing the broker and the store; stopped after the block."""
    logs = Path(tempfile.mkdtemp(prefix="qengine-bench-workers-"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(logs),
        "QENGINE_PLUGINS": "kubernetes",
        "QENGINE_CELERY_BROKER_URL": redis.url,
        "QENGINE_STATE_URL": url,
        "QENGINE_STATE_PASSWORD_FILE": str(pg.password_file),
        "QENGINE_LOCK_WAIT": "1",
        "QENGINE_LOCK_RETRY_DELAY": "0.1",
    }
    procs = []
    for n in range(count):
        argv = [sys.executable, "-m", "celery", "-A", "qengine_celery.worker", "worker"]
        argv += ["-c", "1", "--prefetch-multiplier", "1", "-Q", "qengine", "-n", f"b{n}@%h"]
        argv += ["--without-gossip", "--without-mingle", "-l", "WARNING"]
        with (logs / f"w{n}.log").open("ab") as out:
            procs.append(
                subprocess.Popen(
                    argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
    try:
        yield
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)


def through_workers(app: Any, jobs: list[dict[str, Any]]) -> float:
    """Jobs per minute from submitting the batch to its last result."""
    from qengine_celery import submit_job

    started = time.perf_counter()
    handles = [submit_job(app, document) for document in jobs]
    for handle in handles:
        result = handle.get(timeout=600)
        assert result["exit_code"] == 0, result.get("error")
    return per_minute(len(jobs), time.perf_counter() - started)


def lock_latency(store: StateStore, count: int) -> float:
    """Median seconds of one acquire plus one release of a free target."""
    samples = []
    for n in range(count):
        started = time.perf_counter()
        store.acquire_lock(f"bench/{n % 10}", f"job-{n}")
        store.release_lock(f"bench/{n % 10}", f"job-{n}")
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def median_of(runs: int, measure: Callable[[int], float]) -> float:
    return statistics.median(measure(run) for run in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--targets", type=int, default=6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--locks", type=int, default=200)
    args = parser.parse_args()
    from qengine_celery import client_app

    with ExitStack() as stack:
        pg = stack.enter_context(run_postgres())
        redis = stack.enter_context(run_redis())
        sim = stack.enter_context(KubeSimulator(readiness_delay=0.05))
        kubeconfig = sim.kubeconfig_path
        state = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = pg.new_database()
        sqlite = SqliteStateStore(state / "sqlite")
        postgres = PostgresStateStore(url, password_file=pg.password_file)
        stack.callback(sqlite.close)
        stack.callback(postgres.close)

        print(
            f"jobs per minute, {args.jobs} jobs over {args.targets} targets, median of {args.runs}"
        )
        figures: dict[str, float] = {}

        def baseline(store: StateStore, label: str) -> Callable[[int], float]:
            return lambda run: in_process(
                store, batch(f"{label}{run}", args.jobs, args.targets, kubeconfig)
            )

        figures["in-process, SQLite"] = median_of(args.runs, baseline(sqlite, "s"))
        figures["in-process, PostgreSQL"] = median_of(args.runs, baseline(postgres, "p"))
        app = client_app(redis.url)
        stack.callback(app.close)
        for count in (1, 2, 4):
            with workers(count, redis, pg, url):
                through_workers(app, batch(f"warm{count}-", count, count, kubeconfig))
                figures[f"{count} Celery worker(s)"] = median_of(
                    args.runs,
                    lambda run, c=count: through_workers(  # type: ignore[misc]
                        app, batch(f"w{c}-{run}-", args.jobs, args.targets, kubeconfig)
                    ),
                )
        base = figures["in-process, SQLite"]
        for label, value in figures.items():
            print(f"  {label:28} {value:8.1f} jobs/min   ratio {value / base:5.2f}")

        sqlite_lock = lock_latency(sqlite, args.locks)
        pg_lock = lock_latency(postgres, args.locks)
        print(f"lock acquire+release, median of {args.locks}")
        print(f"  SQLite      {sqlite_lock * 1e3:8.3f} ms")
        print(f"  PostgreSQL  {pg_lock * 1e3:8.3f} ms   ratio {pg_lock / sqlite_lock:5.2f}")


if __name__ == "__main__":
    main()
