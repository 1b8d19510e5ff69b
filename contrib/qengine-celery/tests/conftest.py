"""Real servers and real worker processes for the Celery integration's tests.

A throwaway ``redis-server`` per test (the broker and result backend, with its append-only
file) and PostgreSQL (the shared state store) per test session with a fresh database per
test, and ``celery worker`` processes started as a user would start them (``celery -A
qengine_celery.worker worker``), each in a session of its own so a test can pause or kill a
whole worker (main process and child) like a machine.
Jobs deploy onto the Kubernetes simulator through the Kubernetes plugin, over 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from celery_support import StartWorkers, Worker
from qengine_celery import client_app

from qengine.testing.postgres import LocalPostgres, run_postgres
from qengine.testing.redis_server import LocalRedis, run_redis


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with run_postgres() as server:
        yield server


@pytest.fixture
def redis() -> Iterator[LocalRedis]:
    """A server per test: queues and results never leak from one test to the next. With the
    append-only file, as docs/scale-out.md asks of a production broker."""
    with run_redis(appendonly=True) as server:
        yield server


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> str:
    return postgres.new_database()


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
            "QENGINE_STATE_DIR": str(tmp_path / "state"),
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
