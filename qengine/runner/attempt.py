"""What a worker does with one step: reconcile it if it was in flight, else run it, retried.

Nothing here raises: every outcome, including an error, comes back as an :class:`Attempt`,
so a worker thread never dies with a step's exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

import attrs

from qengine._errors import PluginError
from qengine.retry import RetryNotice, RetryPolicy
from qengine.runner.steps import ReconcileVerdict, Step, StepContext

__all__ = ["Attempt", "call_bounded", "perform"]


@attrs.frozen(kw_only=True)
class Attempt:
    """A step's run: its outputs, or the error it ended with; how many tries it took."""

    outputs: Mapping[str, str] = attrs.field(factory=dict)
    error: BaseException | None = None
    attempts: int = 0
    reconciled: bool = False


def perform(
    step: Step,
    ctx: StepContext,
    *,
    reconcile: bool,
    policy: RetryPolicy,
    on_retry: Callable[[RetryNotice], None],
) -> Attempt:
    """Reconcile (when ``reconcile`` and the step can) and, unless that says DONE, run."""
    tries = [0]

    def once() -> Mapping[str, str]:
        tries[0] += 1
        return step.run(ctx)

    try:
        if reconcile and step.reconcile is not None:
            found = step.reconcile(ctx)
            if found.verdict is ReconcileVerdict.DONE:
                return Attempt(outputs=_checked(step, found.outputs), reconciled=True)
        outputs = policy.call(once, cancel=ctx.cancel, on_retry=on_retry)
        return Attempt(outputs=_checked(step, outputs), attempts=tries[0])
    except BaseException as exc:  # handed to the scheduler, never lost
        return Attempt(error=exc, attempts=tries[0])


def _checked(step: Step, outputs: object) -> Mapping[str, str]:
    if not isinstance(outputs, Mapping) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in outputs.items()
    ):
        raise PluginError(f"step {step.id!r} returned outputs that are not a mapping of strings")
    return dict(outputs)


def call_bounded(
    fn: Callable[[], None], *, timeout: float | None, give_up: Callable[[], bool], poll: float
) -> BaseException | None:
    """Run ``fn`` on a daemon thread; return its error, or None once it returned.

    Stops waiting (returning :class:`TimeoutError`) after ``timeout`` seconds or as soon as
    ``give_up()`` is true; the thread is then abandoned, as a timed-out step's is.
    """
    finished = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the caller
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=target, name="qengine-compensate", daemon=True).start()
    waited = 0.0
    while not finished.wait(poll):
        waited += poll
        if give_up() or (timeout is not None and waited >= timeout):
            return TimeoutError(f"did not finish within {waited:.1f}s")
    return failure[0] if failure else None
