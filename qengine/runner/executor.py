"""The executor: locks a job's target, runs its plan, rolls back on failure, reports.

An :class:`Executor` is a frozen value holding no per-job state, so one executor (or
several) may run many jobs at once on threads of one process: each :meth:`Executor.run`
builds its own event bus, scratch area, worker pool and cancel tokens.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from qengine._events import EventType, Scalar
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.events import EventSink
from qengine.interfaces.lease import TargetLease
from qengine.interfaces.state import StateStore, StepState
from qengine.retry import RetryPolicy
from qengine.runner.events import EventBus, JobRef, Redactor
from qengine.runner.jobrun import JobRun, RunSettings
from qengine.runner.leases import LeaseKeeper
from qengine.runner.memory import MemoryStateStore
from qengine.runner.plan import Plan
from qengine.runner.result import JobResult, JobStatus, StepError
from qengine.runner.rollback import Rollback, RollbackReport
from qengine.runner.steps import Scratch

__all__ = ["Executor"]


def _keep(text: str) -> str:
    return text


@attrs.frozen(kw_only=True)
class Executor:
    """Runs plans: dependency order, at most ``max_parallel`` steps at once, journalled.

    ``lock_wait_seconds``: how long to wait for a target locked by another job before
    :class:`~qengine.TargetLockedError`. ``cancel_grace_seconds``: how long running steps get
    to stop after a cancellation before the run stops waiting for them (0 when forced).
    """

    store: StateStore = attrs.field(factory=MemoryStateStore)
    max_parallel: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    lock_wait_seconds: float = 0.0
    cancel_grace_seconds: float = 30.0
    poll_seconds: float = 0.05

    def run(
        self,
        plan: Plan,
        job: JobRef,
        *,
        sinks: Sequence[EventSink] = (),
        redact: Redactor = _keep,
        cancel: CancelToken | None = None,
        leases: Sequence[TargetLease] = (),
    ) -> JobResult:
        """Run ``plan`` as ``job`` and return how it went; resumes the job if journalled.

        ``leases`` are taken after the store's lock and held (renewed) while the plan runs
        (see :mod:`qengine.interfaces.lease`). Raises :class:`~qengine.TargetLockedError`
        (nothing ran) when ``job.target_id`` is locked, or a lease held, by another live job
        past the wait, and :class:`~qengine.CancelledError` when cancelled while waiting for
        it. Every other outcome, failure and cancellation included, is a :class:`JobResult`;
        sinks are closed when it returns.
        """
        token = cancel if cancel is not None else CancelToken()
        bus = EventBus(job, sinks, redact=redact)
        try:
            if job.target_id:
                self.store.acquire_lock(
                    job.target_id, job.job_id, wait_seconds=self.lock_wait_seconds, cancel=token
                )
            try:
                keeper = LeaseKeeper(
                    leases, job.job_id, wait_seconds=self.lock_wait_seconds, cancel=token, bus=bus
                )
                finished = {
                    record.step_id
                    for record in self.store.step_records(job.job_id)
                    if record.status is StepState.SUCCEEDED
                }
                plan = keeper.wrap(plan, finished)
                with keeper:
                    return self._run_locked(plan, bus, token)
            finally:
                if job.target_id:
                    self.store.release_lock(job.target_id, job.job_id)
        finally:
            bus.close()

    def _run_locked(self, plan: Plan, bus: EventBus, token: CancelToken) -> JobResult:
        started = time.monotonic()
        data: dict[str, Scalar] = {"steps": len(plan), "max_parallel": self.max_parallel}
        bus.emit(EventType.JOB_STARTED, f"job {bus.job.job_id} started", data=data)
        directory = Path(tempfile.mkdtemp(prefix="qengine-job-"))
        try:
            run = JobRun(
                plan,
                store=self.store,
                bus=bus,
                cancel=token,
                settings=self._settings(),
                scratch=Scratch(directory),
            )
            run.execute()
            report = self._roll_back_if_needed(run)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        result = _result(run, report, round(time.monotonic() - started, 6))
        _announce(bus, result)
        return result

    def _settings(self) -> RunSettings:
        return RunSettings(
            max_parallel=self.max_parallel,
            retry=self.retry,
            cancel_grace_seconds=self.cancel_grace_seconds,
            poll_seconds=self.poll_seconds,
        )

    def _roll_back_if_needed(self, run: JobRun) -> RollbackReport:
        if not run.stopping:
            return RollbackReport()
        rollback = Rollback(
            plan=run.plan,
            store=self.store,
            bus=run.bus,
            job_token=run.cancel,
            context_for=run.context,
            poll_seconds=self.poll_seconds,
        )
        report = rollback.run(run.ended, run.partial)
        # Steps stopped mid-run may have changed something and have nothing to undo it
        # (those that can undo a partial run are in the report already).
        stopped = [step_id for step_id in run.interrupted if step_id not in run.partial]
        left = (*stopped, *report.left_in_place)
        return attrs.evolve(report, left_in_place=left)


def _result(run: JobRun, report: RollbackReport, took: float) -> JobResult:
    if run.cancelled:
        status = JobStatus.CANCELLED
        error: StepError | None = StepError(
            message=f"job cancelled: {run.cancel.reason}",
            hint="Run the same job again to resume it.",
            kind="CancelledError",
        )
    else:
        status = JobStatus.FAILED if run.failure is not None else JobStatus.SUCCEEDED
        error = run.failure
    return JobResult(
        job_id=run.job.job_id,
        status=status,
        steps=tuple(run.outcomes[step.id] for step in run.plan.steps),
        outputs={step_id: run.outputs[step_id] for step_id in run.completed},
        changes=run.emitter.changes,
        rolled_back=report.rolled_back,
        left_in_place=report.left_in_place,
        duration_seconds=took,
        error=error,
    )


def _announce(bus: EventBus, result: JobResult) -> None:
    data: dict[str, Scalar] = {
        "status": result.status.value,
        "duration_seconds": result.duration_seconds,
        "rolled_back": ", ".join(result.rolled_back),
        "left_in_place": ", ".join(result.left_in_place),
    }
    if result.error is not None:
        data |= {"error": result.error.message, "hint": result.error.hint}
    message = f"job {result.job_id} {result.status.value}"
    bus.emit(EventType.JOB_FINISHED, message, data=data)
