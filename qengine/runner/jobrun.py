"""One run of one job: the scheduler loop, journalling, timeouts and cancellation.

All mutable state of a run lives on a :class:`JobRun` instance and is touched only by the
thread that called :meth:`JobRun.execute`; workers hand results back through the pool's
queue. That is what lets several jobs run at once in one process.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Mapping

import attrs

from qengine._errors import CancelledError
from qengine._events import EventType, Scalar
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StateStore, StepRecord, StepState
from qengine.retry import RetryNotice, RetryPolicy
from qengine.runner.attempt import Attempt, perform
from qengine.runner.events import BusEmitter, EventBus
from qengine.runner.ledger import Ledger
from qengine.runner.plan import Plan
from qengine.runner.result import StepError, StepOutcome, StepStatus, describe_error
from qengine.runner.steps import Scratch, Step, StepContext
from qengine.runner.workers import WorkerPool

__all__ = ["JobRun", "RunSettings"]


@attrs.frozen(kw_only=True)
class RunSettings:
    """The knobs of a run, from the :class:`~qengine.runner.executor.Executor`."""

    max_parallel: int
    retry: RetryPolicy
    cancel_grace_seconds: float
    poll_seconds: float


@attrs.define
class _Running:
    token: CancelToken
    started: float
    deadline: float | None


class JobRun:
    """Schedules a plan's steps on a worker pool until all are done or the job stops."""

    def __init__(
        self,
        plan: Plan,
        *,
        store: StateStore,
        bus: EventBus,
        cancel: CancelToken,
        settings: RunSettings,
        scratch: Scratch,
    ) -> None:
        self.plan, self.store, self.bus, self.cancel = plan, store, bus, cancel
        self.settings, self.scratch = settings, scratch
        self.job = bus.job
        self.emitter = BusEmitter(bus)
        self.outputs: dict[str, Mapping[str, str]] = {}
        self.completed: list[str] = []
        self.interrupted: list[str] = []
        # What a rollback undoes, in the order the steps ended: the completed steps, and the
        # interrupted ones whose compensate can undo a partial run (with their journal state).
        self.ended: list[str] = []
        self.partial: dict[str, StepState] = {}
        self.outcomes: dict[str, StepOutcome] = {}
        self.failure: StepError | None = None
        self.cancelled = False
        self._in_flight: set[str] = set()
        self._waiting: dict[str, int] = {}
        self._ready: collections.deque[str] = collections.deque()
        self._running: dict[str, _Running] = {}
        self._ledger = Ledger(store, bus)

    @property
    def stopping(self) -> bool:
        """True once a failure or a cancellation stopped new work."""
        return self.failure is not None or self.cancelled

    def execute(self) -> None:
        """Restore what the journal says is done, then run the rest; returns when idle."""
        self._restore()
        pool: WorkerPool[Attempt] = WorkerPool(
            self.settings.max_parallel, name=f"qengine-{self.job.job_id}"
        )
        try:
            self._schedule(pool)
        finally:
            pool.shutdown()
            self._ledger.flush()
        self._cancel_unstarted()

    def context(self, step: Step, token: CancelToken) -> StepContext:
        """The context ``step`` runs (or compensates) with, under ``token``."""
        return StepContext(
            job_id=self.job.job_id,
            organization_id=self.job.organization_id,
            target_id=self.job.target_id,
            step_id=step.id,
            idempotency_key=step.key_for(self.job.job_id),
            cancel=token,
            inputs={dep: self.outputs.get(dep, {}) for dep in step.depends_on},
            outputs=self.outputs.get(step.id, {}),
            scratch=self.scratch,
            emitter=self.emitter,
        )

    # -- resume ---------------------------------------------------------------------------

    def _restore(self) -> None:
        """Mark done what an earlier run finished, and note what it left in flight.

        A step is restored only if it and everything it depends on finished under their
        current idempotency keys: a step whose dependency runs again may get other inputs.
        """
        records = {r.step_id: r for r in self.store.step_records(self.job.job_id)}
        for step in self.plan.steps:  # topological: dependencies are settled first
            record = records.get(step.id)
            if record is None or record.idempotency_key != step.key_for(self.job.job_id):
                continue  # never recorded, or the step changed since: the record says nothing
            restorable = all(dep in self.outputs for dep in step.depends_on)
            if record.status is StepState.SUCCEEDED and restorable:
                self._restore_done(step, record)
            elif record.status is StepState.STARTED and restorable:
                self._in_flight.add(step.id)
        for step in self.plan.steps:
            if step.id not in self.outputs:
                self._waiting[step.id] = sum(dep not in self.outputs for dep in step.depends_on)
                if self._waiting[step.id] == 0:
                    self._ready.append(step.id)

    def _restore_done(self, step: Step, record: StepRecord) -> None:
        self.outputs[step.id] = dict(record.outputs)
        self.completed.append(step.id)
        self.ended.append(step.id)
        self.outcomes[step.id] = StepOutcome(
            step_id=step.id, status=StepStatus.SKIPPED, outputs=record.outputs
        )
        self.bus.emit(EventType.STEP_SKIPPED, "already done by an earlier run", step_id=step.id)

    # -- scheduling -----------------------------------------------------------------------

    def _schedule(self, pool: WorkerPool[Attempt]) -> None:
        while True:
            if self.cancel.cancelled and self._ready_or_running():
                self._begin_cancel()
            tasks = []
            while self._ready and not self.stopping:
                if len(self._running) >= self.settings.max_parallel:
                    break
                tasks.append(self._prepare(self.plan.step(self._ready.popleft())))
            # Write-ahead: what finished and what is about to start, durable in one write,
            # before any of those steps runs.
            self._ledger.flush()
            for step_id, task in tasks:
                pool.submit(step_id, task)
            if not self._running:
                return
            self._await_results(pool)

    def _ready_or_running(self) -> bool:
        return bool(self._running) or (bool(self._ready) and not self.stopping)

    def _prepare(self, step: Step) -> tuple[str, Callable[[], Attempt]]:
        token = CancelToken()
        ctx = self.context(step, token)
        reconcile = step.id in self._in_flight
        self._record(step, StepState.STARTED)
        now = time.monotonic()
        deadline = None if step.timeout is None else now + step.timeout
        self._running[step.id] = _Running(token=token, started=now, deadline=deadline)
        message = step.description or f"{step.id} started"
        self._ledger.announce(EventType.STEP_STARTED, message, step.id, {"reconcile": reconcile})
        policy = step.retry or self.settings.retry
        notify = self._retry_notice(step)
        return step.id, lambda: perform(
            step, ctx, reconcile=reconcile, policy=policy, on_retry=notify
        )

    def _retry_notice(self, step: Step) -> Callable[[RetryNotice], None]:
        def notify(notice: RetryNotice) -> None:
            described = describe_error(notice.error, self.bus.redact)
            self.bus.emit(
                EventType.WARNING,
                f"attempt {notice.attempt} of {step.id} failed ({described.message}); "
                f"retrying in {notice.wait_seconds:.2f}s",
                step_id=step.id,
                data={"attempt": notice.attempt, "wait_seconds": round(notice.wait_seconds, 3)},
            )

        return notify

    def _await_results(self, pool: WorkerPool[Attempt]) -> None:
        now = time.monotonic()
        deadlines = [run.deadline for run in self._running.values() if run.deadline is not None]
        wait = min([self.settings.poll_seconds, *(d - now for d in deadlines)])
        first = pool.next_result(wait)
        if first is not None:
            for step_id, attempt in [first, *pool.drain()]:
                self._finish(step_id, attempt)
        self._expire(time.monotonic())

    def _finish(self, step_id: str, attempt: Attempt) -> None:
        running = self._running.pop(step_id, None)
        if running is None:
            return  # a step the run stopped waiting for (timed out): its late result is moot
        took = round(time.monotonic() - running.started, 6)
        step = self.plan.step(step_id)
        if attempt.error is None:
            self._succeeded(step, attempt, took)
        elif isinstance(attempt.error, CancelledError) and self.cancelled:
            self._interrupted(step, took, attempt.attempts, "cancelled while running")
            self._may_undo(step, StepState.CANCELLED)
        else:
            error = describe_error(attempt.error, self.bus.redact)
            self._failed(step, error, took, attempt.attempts)
            self._may_undo(step, StepState.FAILED)

    def _may_undo(self, step: Step, state: StepState) -> None:
        """A step whose run returned after a failure or a cancellation is rolled back with
        the completed ones when its compensate can undo a partial run. (A step the run stopped
        waiting for, timed out or past the grace, may still be running: it is not.)"""
        if step.compensate is not None and step.compensate_partial:
            self.partial[step.id] = state
            self.ended.append(step.id)

    def _succeeded(self, step: Step, attempt: Attempt, took: float) -> None:
        self.outputs[step.id] = attempt.outputs
        self._record(step, StepState.SUCCEEDED)
        self.completed.append(step.id)
        self.ended.append(step.id)
        self.outcomes[step.id] = StepOutcome(
            step_id=step.id,
            status=StepStatus.SUCCEEDED,
            duration_seconds=took,
            attempts=attempt.attempts,
            outputs=attempt.outputs,
            reconciled=attempt.reconciled,
        )
        data: dict[str, Scalar] = {
            "duration_seconds": took,
            "attempts": attempt.attempts,
            "reconciled": attempt.reconciled,
        }
        self._ledger.announce(EventType.STEP_FINISHED, f"{step.id} done", step.id, data)
        for child in self.plan.dependents[step.id]:
            self._waiting[child] -= 1
            if self._waiting[child] == 0:
                self._ready.append(child)

    def _failed(self, step: Step, error: StepError, took: float, attempts: int) -> None:
        self._record(step, StepState.FAILED, error=error.message)
        self.outcomes[step.id] = StepOutcome(
            step_id=step.id,
            status=StepStatus.FAILED,
            duration_seconds=took,
            attempts=attempts,
            error=error,
        )
        data: dict[str, Scalar] = {
            "duration_seconds": took,
            "attempts": attempts,
            "hint": error.hint,
            "error_type": error.kind,
            "timed_out": error.timed_out,
        }
        self._ledger.announce(EventType.STEP_FAILED, error.message, step.id, data)
        self.interrupted.append(step.id)
        if self.failure is None:
            self.failure = error

    def _interrupted(self, step: Step, took: float, attempts: int, why: str) -> None:
        self._record(step, StepState.CANCELLED, error=why)
        self.outcomes[step.id] = StepOutcome(
            step_id=step.id,
            status=StepStatus.CANCELLED,
            duration_seconds=took,
            attempts=attempts,
            error=StepError(message=why, kind="CancelledError"),
        )
        data: dict[str, Scalar] = {"duration_seconds": took, "started": True}
        self._ledger.announce(EventType.STEP_CANCELLED, why, step.id, data)
        self.interrupted.append(step.id)

    # -- timeouts and cancellation --------------------------------------------------------

    def _expire(self, now: float) -> None:
        for step_id, running in list(self._running.items()):
            if running.deadline is None or now < running.deadline:
                continue
            del self._running[step_id]
            step = self.plan.step(step_id)
            took = round(now - running.started, 6)
            if self.cancelled:
                running.token.cancel("the job was cancelled", force=True)
                self._interrupted(step, took, 0, "did not stop within the cancellation grace")
                continue
            running.token.cancel(f"timed out after {step.timeout}s")
            error = StepError(
                message=f"step {step_id} timed out after {step.timeout}s",
                hint="Raise the step's timeout if the work is slow, or find out why it hangs.",
                kind="TimeoutError",
                timed_out=True,
            )
            self._failed(step, error, took, 0)

    def _begin_cancel(self) -> None:
        grace = 0.0 if self.cancel.forced else self.settings.cancel_grace_seconds
        if not self.cancelled:
            self.cancelled = True
            self._ledger.announce(
                EventType.WARNING, f"cancelling the job: {self.cancel.reason}", None, {}
            )
        limit = time.monotonic() + grace
        for running in self._running.values():
            running.token.cancel(self.cancel.reason, force=self.cancel.forced)
            running.deadline = min(running.deadline or limit, limit)

    def _cancel_unstarted(self) -> None:
        why = "not started: the job was cancelled" if self.cancelled else "not started"
        if self.failure is not None and not self.cancelled:
            why = "not started: the job stopped at the first failure"
        for step in self.plan.steps:
            if step.id not in self.outcomes:
                self.outcomes[step.id] = StepOutcome(
                    step_id=step.id,
                    status=StepStatus.CANCELLED,
                    error=StepError(message=why, kind="CancelledError"),
                )
                data: dict[str, Scalar] = {"started": False}
                self.bus.emit(EventType.STEP_CANCELLED, why, step_id=step.id, data=data)

    def _record(self, step: Step, state: StepState, *, error: str = "") -> None:
        self._ledger.record(
            StepRecord(
                job_id=self.job.job_id,
                step_id=step.id,
                idempotency_key=step.key_for(self.job.job_id),
                status=state,
                outputs=self.outputs.get(step.id, {}) if state is StepState.SUCCEEDED else {},
                error=error,
            )
        )
