"""What a run returns: the job's status, each step's outcome, outputs, and what was undone."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

import attrs

from qengine._errors import QengineError, TargetLockedError
from qengine.runner.steps import Change

__all__ = ["JobResult", "JobStatus", "StepError", "StepOutcome", "StepStatus", "describe_error"]

_DEFECT_HINT = (
    "An unexpected error in a step is a defect of the plugin that provides it; "
    "report it with the job's events file."
)


class JobStatus(enum.StrEnum):
    """How a job ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this status: 0, 1 or 3."""
        return {"succeeded": 0, "failed": 1, "cancelled": 3}[self.value]


class StepStatus(enum.StrEnum):
    """How a step ended. SKIPPED: done by an earlier run of the job (resume)."""

    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


@attrs.frozen(kw_only=True)
class StepError:
    """Why a step or job failed: a redacted message, what to do (``hint``), the error class;
    ``locked`` when it is a :class:`~qengine.TargetLockedError` (of any subclass: a held
    Terraform state lock, a target's lease), which makes the job's exit code 4."""

    message: str
    hint: str = ""
    kind: str = ""
    timed_out: bool = False
    locked: bool = False


def describe_error(error: BaseException, redact: Callable[[str], str]) -> StepError:
    """A redacted :class:`StepError` for ``error``; unexpected classes get a defect hint."""
    if isinstance(error, QengineError):
        message, hint = error.message, error.hint
    else:
        message, hint = f"{type(error).__name__}: {error}", _DEFECT_HINT
    return StepError(
        message=redact(message),
        hint=redact(hint),
        kind=type(error).__name__,
        locked=isinstance(error, TargetLockedError),
    )


@attrs.frozen(kw_only=True)
class StepOutcome:
    """One step's end: status, time taken, attempts made, outputs or error.

    ``reconciled`` is true when the step was found in flight after a crash and its
    ``reconcile`` said the work was done.
    """

    step_id: str
    status: StepStatus
    duration_seconds: float = 0.0
    attempts: int = 0
    outputs: Mapping[str, str] = attrs.field(factory=dict)
    error: StepError | None = None
    reconciled: bool = False


@attrs.frozen(kw_only=True)
class JobResult:
    """A job's result, as returned to the host and summarised in the recap.

    ``steps`` follows the plan's order. ``rolled_back`` lists steps whose compensation ran, in
    the order it ran; ``left_in_place`` the steps whose changes (possibly partial) remain after
    a failed or cancelled job: interrupted steps, completed steps without compensation, and
    compensations that failed. ``changes`` are the resource changes steps reported.
    """

    job_id: str
    status: JobStatus
    steps: tuple[StepOutcome, ...]
    outputs: Mapping[str, Mapping[str, str]]
    changes: tuple[Change, ...] = ()
    rolled_back: tuple[str, ...] = ()
    left_in_place: tuple[str, ...] = ()
    duration_seconds: float = 0.0
    error: StepError | None = None

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 3 cancelled; 4 for a job that failed because another job
        holds its target (a lease taken at the end of a step, a held Terraform state lock)."""
        if self.status is JobStatus.FAILED and self.error is not None and self.error.locked:
            return 4
        return self.status.exit_code

    def to_json(self) -> dict[str, object]:
        """The result as JSON data (what ``qengine run --output json`` prints)."""
        data: dict[str, object] = attrs.asdict(self, value_serializer=_plain)
        data["exit_code"] = self.exit_code
        return data

    def outcome(self, step_id: str) -> StepOutcome:
        """The outcome of ``step_id``; KeyError if the plan had no such step."""
        for outcome in self.steps:
            if outcome.step_id == step_id:
                return outcome
        raise KeyError(step_id)


def _plain(_instance: object, _field: object, value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value
