"""Real servers and real worker processes for the Celery integration's tests.

A throwaway ``redis-server`` (the broker and result backend) and PostgreSQL (the shared state
store) per test session, a fresh database per test, and ``celery worker`` processes started
as a user would start them (``celery -A qengine_celery.worker worker``), each in a session of
its own so a test can pause or kill a whole worker (main process and child) like a machine.
Jobs deploy onto the Kubernetes simulator through the Kubernetes plugin, over 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery

from qengine.testing.postgres import LocalPostgres, run_postgres
from qengine.testing.redis_server import LocalRedis, run_redis
from qengine_celery import client_app


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with run_postgres() as server:
        yield server


@pytest.fixture
def redis() -> Iterator[LocalRedis]:
    """A server per test: queues and results never leak from one test to the next."""
    with run_redis() as server:
        yield server


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> str:
    return postgres.new_database()


class Worker:
    """One ``celery worker`` process (concurrency 1), its log, and its process group."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        argv = [sys.executable, "-m", "celery", "-A", "qengine_celery.worker", "worker"]
        argv += ["--concurrency", "1", "--prefetch-multiplier", "1", "-Q", "qengine"]
        argv += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.text():
            assert self.process.poll() is None, f"worker {self.name} died:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"worker {self.name} not ready:\n{self.text()}"
            time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def group_signal(self, number: int) -> None:
        """Signal the whole worker (main process and child), as a machine would be."""
        os.killpg(self.process.pid, number)

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` is this worker's main process or one of its children."""
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.group_signal(signal.SIGCONT)
                self.group_signal(signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.group_signal(signal.SIGKILL)
                self.process.wait(timeout=20)
        # The child may outlive a killed main process for a moment: end the group.
        try:
            self.group_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass


StartWorkers = Callable[..., list[Worker]]


@pytest.fixture
def start_workers(
    tmp_path: Path, redis: LocalRedis, postgres: LocalPostgres, pg_url: str
) -> Iterator[StartWorkers]:
    """``start_workers(n, **env)``: n workers sharing the broker and the store."""
    started: list[Worker] = []

    def start(count: int, **overrides: str) -> list[Worker]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path / "home"),
            "LANG": "C.UTF-8",
            "QENGINE_PLUGINS": "kubernetes",
            "QENGINE_CELERY_BROKER_URL": redis.url,
            "QENGINE_STATE_URL": pg_url,
            "QENGINE_STATE_PASSWORD_FILE": str(postgres.password_file),
            "QENGINE_STATE_LEASE": "3",
            "QENGINE_LOCK_WAIT": "1",
            "QENGINE_LOCK_RETRY_DELAY": "0.3",
            "QENGINE_VISIBILITY_TIMEOUT": "3600",
            **overrides,
        }
        fresh = [
            Worker(f"w{len(started) + i}", env, tmp_path / f"worker-{len(started) + i}.log")
            for i in range(count)
        ]
        started.extend(fresh)
        for worker in fresh:
            worker.wait_ready()
        return fresh

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def app(redis: LocalRedis) -> Iterator[Celery]:
    """The host's client."""
    client = client_app(redis.url)
    yield client
    client.close()
