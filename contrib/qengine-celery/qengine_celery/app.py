"""The Celery application of the workers, and the host's client of it.

Delivery settings, and why: ``acks_late`` with a prefetch of 1, so that a message is
acknowledged only when its job ended and a worker holds one job at a time (a worker that dies
leaves its message to be delivered again, and none queued behind it); ``reject_on_worker_lost``
so that the death of a worker's child puts the message back at once; JSON only (a job spec is
JSON, and no pickle crosses the broker); the job id is the task id, so duplicates of a job
share one result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.result import AsyncResult

from qengine_celery.settings import WorkerSettings, _with_password
from qengine_celery.task import JobWorker

__all__ = ["TASK_NAME", "cancel_job", "client_app", "make_app", "submit_job"]

TASK_NAME = "qengine.run_job"
# Publishing (a host's submit, a worker's retry): up to 30 attempts, 1 s apart growing to 5 s.
PUBLISH_RETRY = {"max_retries": 30, "interval_start": 0, "interval_step": 1, "interval_max": 5}


def _configure(app: Celery, *, queue: str, visibility_timeout: float) -> None:
    # Redis: how often a worker sweeps for messages whose worker died (kombu's default
    # sweep, every 100 s, would leave a dead worker's job waiting that long on top of the
    # visibility timeout).
    sweep = max(1, min(10, int(visibility_timeout // 4)))
    transport: dict[str, float] = {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": sweep,
        "unacked_restore_throttle": 1,
    }
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_extended=True,
        task_default_queue=queue,
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        broker_connection_retry_on_startup=True,
        # A broker restart (Redis): a worker's final result and a task's retry (a new
        # message) wait for the broker to come back, with backoff, for about a minute or two,
        # instead of being lost at the first refused connection: a result that cannot be
        # stored would leave the host without one, and a retry that cannot be published has
        # its message rejected, and its job dropped.
        result_backend_always_retry=True,
        result_backend_max_retries=30,
        result_backend_base_sleep_between_retries_ms=100,
        result_backend_max_sleep_between_retries_ms=5000,
        task_publish_retry_policy=PUBLISH_RETRY,
        worker_hijack_root_logger=False,
    )


def make_app(settings: WorkerSettings | None = None) -> Celery:
    """The workers' application, with the ``qengine.run_job`` task, configured by
    ``settings`` (default: :meth:`WorkerSettings.from_environ`)."""
    config = settings if settings is not None else WorkerSettings.from_environ()
    app = Celery(
        "qengine",
        broker=config.broker_url_with_password(),
        backend=config.result_backend_with_password(),
        set_as_current=False,
    )
    _configure(app, queue=config.queue, visibility_timeout=config.visibility_timeout_seconds)
    worker = JobWorker(config)

    # max_retries=None: a job for a busy target is retried until it runs, unless the
    # settings bound it (QENGINE_LOCK_MAX_RETRIES).
    @app.task(
        bind=True, name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, max_retries=None
    )
    def run_job(
        self: Task[Any, Any], document: dict[str, Any], store_retries: int = 0
    ) -> dict[str, Any]:
        """Run one job spec (sealed, and signed where the worker trusts keys).
        ``store_retries``: how many times the task was retried for an unreachable state
        store (set by the task's own retries; a host leaves it out)."""
        return worker.run(self, document, store_retries=store_retries)

    return app


def client_app(
    broker_url: str,
    result_backend: str | None = None,
    *,
    broker_password_file: Path | None = None,
    queue: str = "qengine",
) -> Celery:
    """An application for the host that submits jobs and reads their results."""
    backend = result_backend or broker_url
    app = Celery(
        "qengine",
        broker=_with_password(broker_url, broker_password_file),
        backend=_with_password(backend, broker_password_file if backend == broker_url else None),
        set_as_current=False,
    )
    _configure(app, queue=queue, visibility_timeout=3600.0)
    return app


def submit_job(app: Celery, document: Mapping[str, Any]) -> AsyncResult[Any]:
    """Queue ``document``; its job id is the task id (a duplicate shares the result)."""
    job_id = str(document["id"])
    return app.send_task(TASK_NAME, args=[dict(document)], task_id=job_id)


def cancel_job(app: Celery, job_id: str) -> None:
    """Revoke the job's task: a queued job never starts; a running one is cancelled
    gracefully (SIGTERM in its worker) and rolls back what it changed."""
    app.control.revoke(job_id, terminate=True, signal="SIGTERM")
