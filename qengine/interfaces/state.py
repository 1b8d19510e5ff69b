"""State stores keep the step journal, target locks and the record of accepted jobs."""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken


class StepState(enum.StrEnum):
    """Where a step of a job stands in the journal.

    ``started`` and ``compensating`` are in-flight states: a journal left in one of them says
    the process died while the step (or its rollback) ran.
    """

    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"


@attrs.frozen(kw_only=True)
class StepRecord:
    """The journal's view of one step of one job.

    ``outputs`` are the step's outputs once it succeeded; ``error`` a redacted one-line reason
    when it failed. Neither ever holds a secret value.
    """

    job_id: str
    step_id: str
    idempotency_key: str
    status: StepState
    outputs: Mapping[str, str] = attrs.field(factory=dict)
    error: str = ""


@attrs.frozen(kw_only=True)
class LockHolder:
    """Who holds a target's lock: the owning job, and the process that took it.

    ``process_started`` tells a live holder from a new process that reused a dead one's pid;
    it is empty where the platform cannot say. Stores whose locks are leases (PostgreSQL) also
    tell when the lease lapses unless renewed, and the holder's fencing token; others leave
    them empty and 0.
    """

    target: str
    owner: str
    pid: int
    host: str
    process_started: str
    acquired_at: str
    lease_expires_at: str = ""
    fencing_token: int = 0


class StateStore(abc.ABC):
    """Durable, process-safe storage for journals and locks (a SQLite file by default).

    Every write is durable before the method returns (write-ahead): after a crash of the
    process, the journal tells which steps finished and which were in flight. Implementations
    are safe to call from several threads at once.
    """

    @abc.abstractmethod
    def record_step(self, record: StepRecord) -> None:
        """Insert or replace the record of ``(record.job_id, record.step_id)``.

        Post: the record is durable (survives the death of this process) and is what
        :meth:`step_records` returns for that step. Replacing keeps the step's original
        position in the job's order.
        """

    def record_steps(self, records: Sequence[StepRecord]) -> None:
        """Record several steps, as :meth:`record_step` would, in order.

        Post: every record is durable when this returns. Stores that can should write them in
        one transaction (the runner journals a finished step and the steps it unblocks
        together); this default writes them one by one, which is equally correct.
        """
        for record in records:
            self.record_step(record)

    @abc.abstractmethod
    def step_records(self, job_id: str) -> Sequence[StepRecord]:
        """Every recorded step of ``job_id``, in the order they were first recorded.

        Post: empty for a job never recorded; never raises for an unknown job.
        """

    @abc.abstractmethod
    def acquire_lock(
        self,
        target: str,
        owner: str,
        *,
        wait_seconds: float = 0.0,
        cancel: CancelToken | None = None,
    ) -> None:
        """Take the exclusive lock of ``target`` for ``owner`` (a job id).

        Pre: ``target`` and ``owner`` are non-empty. A lock whose holder process is gone (same
        host, pid dead or reused) is taken over. While another live owner holds it, waits up to
        ``wait_seconds``, waking early if ``cancel`` is cancelled.
        Post: this process holds the lock for ``owner``. Raises
        :class:`~qengine.TargetLockedError` (naming the holder) when the wait runs out, and
        :class:`~qengine.CancelledError` when cancelled while waiting.
        """

    @abc.abstractmethod
    def release_lock(self, target: str, owner: str) -> None:
        """Release ``target`` if ``owner`` holds it; releasing a lock not held is a no-op."""

    @abc.abstractmethod
    def lock_holder(self, target: str) -> LockHolder | None:
        """Who holds ``target`` now, or None; a dead holder's stale row may still show."""

    @abc.abstractmethod
    def accept_job_once(self, job_id: str) -> bool:
        """Record ``job_id`` as accepted; False if it was accepted before (a replay).

        Post: of any number of concurrent calls for one ``job_id``, across processes sharing
        the store, exactly one returns True, ever.
        """

    @abc.abstractmethod
    def finish_job(self, job_id: str, status: str) -> None:
        """Record that ``job_id`` ended with ``status`` (succeeded, failed or cancelled).

        Post: :meth:`job_status` returns ``status``. A job that was accepted but never
        finished (its process died) has no status: running it again resumes it.
        """

    @abc.abstractmethod
    def job_status(self, job_id: str) -> str | None:
        """The status :meth:`finish_job` recorded for ``job_id``, or None."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections and files; the stored state stays."""
