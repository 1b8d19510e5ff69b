"""The task: one job spec, run as ``qengine run`` runs it, on the worker's engine.

What a message may turn into, and why nothing runs twice:

- the job finished before (a redelivered message, a duplicate): the stored status is
  returned, nothing runs;
- the job was interrupted (its worker died): the engine resumes it from the journal once the
  dead worker's lease on the target lapsed; finished steps are skipped, the one in flight is
  reconciled;
- the target is busy with another job: the job waits up to ``lock_wait_seconds``, then the
  task is retried by Celery (a new message, same task id), never dropped;
- this worker lost its lease (it was paused or cut off past the lease, and another worker took
  the lease over): the job stops before its next write and the task is retried like a job
  for a busy target. When the taker runs this same job (its message was delivered again),
  the retry finds it finished and keeps that run's result; when the taker runs another job
  of the target, nothing else would run this one (its message is acknowledged), so the
  retry resumes it once the target is free;
- the state store is unreachable: the task is retried; the job resumes from the journal;
- revoke with terminate (SIGTERM in the worker's child): the job's graceful cancel, rollback
  of what it changed, a ``cancelled`` result.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from celery.exceptions import Ignore

from qengine import (
    CancelledError,
    Engine,
    Event,
    InvalidInputError,
    TargetLockedError,
    TransientError,
    Trust,
    load_plugins,
)
from qengine.interfaces.cancel import CancelToken
from qengine.runner.pgstore import LeaseLostError, PostgresStateStore
from qengine.runner.signals import cancel_on_signals
from qengine_celery.settings import WorkerSettings

if TYPE_CHECKING:
    from celery import Task

__all__ = ["JobWorker"]

JsonResult = dict[str, Any]
_log = logging.getLogger("qengine_celery")
# The state store unreachable: the task is retried this many times, after a delay that doubles
# from the lock retry delay up to a minute (about a quarter of an hour in all with the default
# 5 s), then it fails; the job resumes when submitted again. Counted apart from the retries for
# a busy target, which may be many.
TRANSIENT_RETRIES = 20
TRANSIENT_DELAY_CAP = 60.0


class JobWorker:
    """The engine of one worker process, made on its first job (after the fork) and kept."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._pid = 0
        self._engine: Engine | None = None
        self._store: PostgresStateStore | None = None
        self._lock = threading.Lock()

    def store(self) -> PostgresStateStore:
        """This process's connection to the shared state store."""
        self.engine()
        assert self._store is not None
        return self._store

    def engine(self) -> Engine:
        """This process's engine; a forked child makes its own (connections are not shared)."""
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                self._engine, self._store = self._make_engine()
                self._pid = os.getpid()
            return self._engine

    def _make_engine(self) -> tuple[Engine, PostgresStateStore]:
        from qengine.secrets.local_keys import LocalKeyProvider
        from qengine.secrets.signing_keys import load_trusted_keys

        s = self.settings
        store = PostgresStateStore(
            s.state_url, password_file=s.state_password_file, lease_seconds=s.lease_seconds
        )
        trust = Trust(keys=load_trusted_keys(list(s.trust_keys))) if s.trust_keys else None
        keys = s.keys_dir or (s.state_dir / "keys" if s.state_dir else None)
        provider = LocalKeyProvider(keys) if keys is not None else None
        audit = None
        if s.state_dir is not None:
            from qengine.audit.sink import JsonlAuditSink

            # One hash chain per process: several processes cannot extend one chain.
            name = f"audit-{os.uname().nodename}-{os.getpid()}.jsonl"
            s.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            audit = JsonlAuditSink(s.state_dir / name)
        engine = Engine(
            load_plugins(), store=store, key_provider=provider, trust=trust, audit=audit
        )
        return engine, store

    def run(
        self, task: Task[Any, Any], document: Mapping[str, Any], *, store_retries: int = 0
    ) -> JsonResult:
        """Run ``document`` for ``task``; see the module's docstring for every outcome.
        ``store_retries``: the task's retries so far for an unreachable state store."""
        job_id = str(document.get("id", ""))
        try:
            done = self.store().job_status(job_id) if job_id else None
        except TransientError as exc:  # the store is away: the job is not dropped
            raise self._retry_transient(task, exc, store_retries) from None
        if done is not None:
            if task.AsyncResult(task.request.id or job_id).ready():
                raise Ignore()  # a duplicate: keep the full result the first run stored
            return {"job_id": job_id, "status": done, "exit_code": _exit(done), "replayed": True}
        events: list[dict[str, Any]] = []
        token = CancelToken()
        try:
            with ExitStack() as stack:
                if threading.current_thread() is threading.main_thread():
                    stack.enter_context(cancel_on_signals(token))  # revoke(terminate=True)
                result = self.engine().run(
                    document,
                    on_event=_collector(task, job_id, events),
                    cancel=token,
                    wait_lock=self.settings.lock_wait_seconds,
                )
        except TargetLockedError as exc:
            if isinstance(exc, LeaseLostError):
                _log.warning("%s", exc)
            # Celery counts every retry of the task: those for the store are not the lock's.
            limit = self.settings.lock_max_retries
            raise task.retry(
                exc=exc,
                countdown=self.settings.lock_retry_delay_seconds,
                max_retries=None if limit is None else limit + store_retries,
            ) from None
        except TransientError as exc:
            raise self._retry_transient(task, exc, store_retries) from None
        except CancelledError as exc:
            return _refused(job_id, "cancelled", 3, exc, events)
        except InvalidInputError as exc:
            return _refused(job_id, "invalid", exc.exit_code, exc, events)
        finally:
            # Steps a failed run left running in the background stop: a retry may resume
            # the job elsewhere.
            token.cancel("the task ended", force=True)
        data = result.to_json()
        data["events"] = events
        data["worker"] = f"{os.uname().nodename}:{os.getpid()}"
        return data

    def _retry_transient(
        self, task: Task[Any, Any], exc: TransientError, store_retries: int
    ) -> Exception:
        if store_retries >= TRANSIENT_RETRIES:
            return exc  # the task fails; the journal is intact for a resubmission
        delay = min(self.settings.lock_retry_delay_seconds * 2**store_retries, TRANSIENT_DELAY_CAP)
        return task.retry(
            exc=exc,
            countdown=delay,
            max_retries=None,
            kwargs={"store_retries": store_retries + 1},
        )


def _exit(status: str) -> int:
    return {"succeeded": 0, "failed": 1, "cancelled": 3}.get(status, 1)


def _refused(
    job_id: str, status: str, code: int, exc: Exception, events: list[dict[str, Any]]
) -> JsonResult:
    hint = getattr(exc, "hint", "")
    return {
        "job_id": job_id,
        "status": status,
        "exit_code": code,
        "error": {"message": str(exc), "hint": hint},
        "events": events,
    }


def _collector(
    task: Task[Any, Any], job_id: str, events: list[dict[str, Any]]
) -> Callable[[Event], None]:
    lock = threading.Lock()

    def on_event(event: Event) -> None:
        data = event.to_json_object()
        with lock:
            events.append(data)
            count = len(events)
        try:
            # max_retries=0: while the backend is away, progress is dropped rather than
            # holding up the job (the final result is retried: see app.py).
            task.update_state(
                state="PROGRESS",
                meta={"job_id": job_id, "events": count, "last": data},
                max_retries=0,
            )
        except Exception:  # a lost progress update must not fail a deployment
            return

    return on_event
