"""Rollback: run the compensations of the steps a job completed, newest first.

Steps whose ``compensate`` can undo a partial run (``Step.compensate_partial``) and whose run
a failure or a cancellation stopped are compensated too, in the order the steps ended.
Each compensation is journalled write-ahead (``compensating`` then ``compensated``), bounded
by its step's timeout, and given a fresh cancel token: the job's token is already cancelled
when a cancelled job rolls back, and rollback must still happen. A forced cancellation (a
second signal) skips rollback and leaves everything as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from qengine._errors import CancelledError
from qengine._events import EventType
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import StateStore, StepRecord, StepState
from qengine.runner.attempt import call_bounded
from qengine.runner.events import EventBus
from qengine.runner.plan import Plan
from qengine.runner.result import describe_error
from qengine.runner.steps import Step, StepContext

__all__ = ["Rollback", "RollbackReport"]

ContextFactory = Callable[[Step, CancelToken], StepContext]


@attrs.frozen(kw_only=True)
class RollbackReport:
    """Which steps were compensated, in order, and which were left as they were."""

    rolled_back: tuple[str, ...] = ()
    left_in_place: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Rollback:
    """Compensates completed steps of one job run."""

    plan: Plan
    store: StateStore
    bus: EventBus
    job_token: CancelToken
    context_for: ContextFactory
    poll_seconds: float

    def run(
        self, completed: Sequence[str], partial: Mapping[str, StepState] | None = None
    ) -> RollbackReport:
        """Compensate ``completed`` (in the order the steps ended) from last to first.

        ``partial`` maps the steps among them whose run did not finish to their journal state
        (failed or cancelled), which a failed compensation leaves them in.
        """
        partial = partial or {}
        rolled: list[str] = []
        left: list[str] = []
        for step_id in reversed(completed):
            step = self.plan.step(step_id)
            if self.job_token.forced:
                left.append(step_id)  # forced while rolling back: stop at once
            elif step.compensate is not None and self._compensate(
                step, partial.get(step_id, StepState.SUCCEEDED)
            ):
                rolled.append(step_id)
            else:
                left.append(step_id)
        return RollbackReport(rolled_back=tuple(rolled), left_in_place=tuple(left))

    def _compensate(self, step: Step, before: StepState) -> bool:
        compensate = step.compensate
        assert compensate is not None
        ctx = self.context_for(step, CancelToken())
        self._record(step, ctx, StepState.COMPENSATING)
        started = time.monotonic()
        error = call_bounded(
            lambda: compensate(ctx),
            timeout=step.timeout,
            give_up=lambda: self.job_token.forced,
            poll=self.poll_seconds,
        )
        took = round(time.monotonic() - started, 6)
        if isinstance(error, TimeoutError) and self.job_token.forced:
            error = CancelledError("stopped by a forced cancellation (a second signal)")
        if error is None:
            self._record(step, ctx, StepState.COMPENSATED)
            self.bus.emit(
                EventType.STEP_COMPENSATED,
                f"rolled back {step.id}",
                step_id=step.id,
                data={"duration_seconds": took},
            )
            return True
        ctx.cancel.cancel("rollback abandoned")
        described = describe_error(error, self.bus.redact)
        self._record(step, ctx, before, error=f"rollback failed: {described.message}")
        self.bus.emit(
            EventType.WARNING,
            f"rollback of {step.id} failed, its changes are left as they were: {described.message}",
            step_id=step.id,
            data={"hint": described.hint, "error_type": described.kind},
        )
        return False

    def _record(self, step: Step, ctx: StepContext, state: StepState, error: str = "") -> None:
        self.store.record_step(
            StepRecord(
                job_id=ctx.job_id,
                step_id=step.id,
                idempotency_key=ctx.idempotency_key,
                status=state,
                outputs=ctx.outputs,
                error=error,
            )
        )
