"""A journal-off state store held in memory: for ``plan``, tests and the benchmark baseline.

Nothing survives the process, so a job run on it cannot be resumed; locks only exclude other
jobs of the same process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import LockHolder, StateStore, StepRecord
from qengine.runner.events import utc_timestamp
from qengine.runner.liveness import ProcessIdentity
from qengine.runner.lockwait import wait_for_lock

__all__ = ["MemoryStateStore"]


class MemoryStateStore(StateStore):
    """A :class:`StateStore` in this process's memory; thread-safe."""

    def __init__(self, *, lock_poll_seconds: float = 0.05) -> None:
        self._steps: dict[str, dict[str, StepRecord]] = {}
        self._locks: dict[str, LockHolder] = {}
        self._accepted: set[str] = set()
        self._finished: dict[str, str] = {}
        self._poll = lock_poll_seconds
        self._me = ProcessIdentity.current()
        self._lock = threading.Lock()

    def record_step(self, record: StepRecord) -> None:
        """Keep ``record``; dicts keep first-insertion order, as the contract asks."""
        with self._lock:
            self._steps.setdefault(record.job_id, {})[record.step_id] = record

    def step_records(self, job_id: str) -> Sequence[StepRecord]:
        """The job's records in first-recorded order."""
        with self._lock:
            return list(self._steps.get(job_id, {}).values())

    def acquire_lock(
        self,
        target: str,
        owner: str,
        *,
        wait_seconds: float = 0.0,
        cancel: CancelToken | None = None,
    ) -> None:
        """See :meth:`StateStore.acquire_lock`; every holder is in this process, so alive."""
        wait_for_lock(
            lambda: self._try_lock(target, owner),
            wait_seconds=wait_seconds,
            cancel=cancel,
            poll_seconds=self._poll,
        )

    def release_lock(self, target: str, owner: str) -> None:
        """Drop the lock if ``owner`` holds it."""
        with self._lock:
            holder = self._locks.get(target)
            if holder is not None and holder.owner == owner:
                del self._locks[target]

    def lock_holder(self, target: str) -> LockHolder | None:
        """The holder of ``target``, or None."""
        with self._lock:
            return self._locks.get(target)

    def finish_job(self, job_id: str, status: str) -> None:
        """Keep the job's final status."""
        with self._lock:
            self._finished[job_id] = status

    def job_status(self, job_id: str) -> str | None:
        """The kept final status, or None."""
        with self._lock:
            return self._finished.get(job_id)

    def accept_job_once(self, job_id: str) -> bool:
        """True the first time ``job_id`` is seen by this store."""
        with self._lock:
            fresh = job_id not in self._accepted
            self._accepted.add(job_id)
            return fresh

    def _try_lock(self, target: str, owner: str) -> LockHolder | None:
        with self._lock:
            holder = self._locks.get(target)
            if holder is not None:
                return holder
            self._locks[target] = LockHolder(
                target=target,
                owner=owner,
                pid=self._me.pid,
                host=self._me.host,
                process_started=self._me.started,
                acquired_at=utc_timestamp(),
            )
            return None
