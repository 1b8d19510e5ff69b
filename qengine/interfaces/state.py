"""State stores keep the step journal, target locks and the record of accepted jobs."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

import attrs


@attrs.frozen(kw_only=True)
class StepRecord:
    """The journal's view of one step of one job."""

    job_id: str
    step_id: str
    idempotency_key: str
    status: str  # "started" | "succeeded" | "failed" | "compensated" | "cancelled"
    outputs: Mapping[str, str] = attrs.field(factory=dict)


class StateStore(abc.ABC):
    """Durable, process-safe storage for journals and locks (a SQLite file by default).

    Every write is durable before the method returns (write-ahead): after a crash, the journal
    tells which steps finished and which were in flight.
    """

    @abc.abstractmethod
    def record_step(self, record: StepRecord) -> None:
        """Insert or replace the record of ``(record.job_id, record.step_id)``, durably."""

    @abc.abstractmethod
    def step_records(self, job_id: str) -> Sequence[StepRecord]:
        """Every recorded step of ``job_id``, in the order they were first recorded."""

    @abc.abstractmethod
    def acquire_lock(self, target: str, owner: str, *, wait_seconds: float = 0.0) -> None:
        """Take the exclusive lock of ``target`` for ``owner`` (a job id).

        A lock whose holder process is gone is taken over. Raises
        :class:`~qengine.TargetLockedError` when another live owner holds it past the wait.
        """

    @abc.abstractmethod
    def release_lock(self, target: str, owner: str) -> None:
        """Release ``target`` if ``owner`` holds it; releasing a lock not held is a no-op."""

    @abc.abstractmethod
    def accept_job_once(self, job_id: str) -> bool:
        """Record ``job_id`` as accepted; False if it was accepted before (a replay)."""
