"""The one retry policy: the only place tenacity is configured.

Whether an error may be retried is a property of its class (``QengineError.retryable``, true
for :class:`~qengine.TransientError`); this policy reads it and nothing else decides. A
retryable error is tried again after a jittered exponential backoff, or after the server's
``retry_after`` when it gave one, within both an attempt budget and a time budget. Every other
error propagates at once, unchanged, with its hint. Backoffs sleep on the job's cancel token,
so cancelling a job interrupts a backoff immediately.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import attrs
import tenacity

from qengine._errors import CancelledError, QengineError
from qengine.interfaces.cancel import CancelToken

__all__ = ["RetryNotice", "RetryPolicy", "is_retryable"]

T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    """True when ``error``'s class says it may pass on its own."""
    return isinstance(error, QengineError) and error.retryable


def _retry_after(error: BaseException | None) -> float | None:
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) and value >= 0 else None


@attrs.frozen(kw_only=True)
class RetryNotice:
    """What a retry hook is told before each backoff: the error, the attempt that failed,
    and how long the policy will wait before the next one."""

    error: BaseException
    attempt: int
    wait_seconds: float


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Retry retryable errors with jittered exponential backoff, within two budgets.

    ``max_attempts`` counts the first call. ``max_elapsed_seconds`` bounds the whole call,
    backoffs included: a retry whose wait would end past the budget is not attempted, the last
    error is raised instead. The ``n``-th backoff is drawn uniformly from
    ``[0, min(max_backoff, initial_backoff * 2**(n-1))]`` (full jitter), unless the error
    carries ``retry_after``, which is honoured as given (it may exceed ``max_backoff``).
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    max_elapsed_seconds: float = attrs.field(default=120.0, validator=attrs.validators.gt(0))
    initial_backoff: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_backoff: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))

    def call(
        self,
        fn: Callable[[], T],
        *,
        cancel: CancelToken | None = None,
        on_retry: Callable[[RetryNotice], None] | None = None,
    ) -> T:
        """Call ``fn`` until it returns, fails with a non-retryable error, or a budget runs out.

        Raises the last error as ``fn`` raised it (never a tenacity type), or
        :class:`~qengine.CancelledError` if ``cancel`` fires before an attempt or during a
        backoff. ``on_retry`` is told about each retry before its backoff.
        """
        token = cancel if cancel is not None else CancelToken()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(is_retryable),
            stop=tenacity.stop_any(
                tenacity.stop_after_attempt(self.max_attempts),
                tenacity.stop_before_delay(self.max_elapsed_seconds),
            ),
            wait=self._wait,
            sleep=lambda seconds: self._sleep(token, seconds),
            before_sleep=None if on_retry is None else self._notify(on_retry),
            reraise=True,
        )
        result: T = retrying(self._attempt, fn, token)
        return result

    @staticmethod
    def _attempt(fn: Callable[[], T], token: CancelToken) -> T:
        token.raise_if_cancelled()
        return fn()

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        hinted = _retry_after(error)
        if hinted is not None:
            return hinted
        jittered = tenacity.wait_random_exponential(
            multiplier=self.initial_backoff, max=self.max_backoff
        )
        return float(jittered(state))

    @staticmethod
    def _sleep(token: CancelToken, seconds: float) -> None:
        if token.wait(seconds):
            raise CancelledError(f"job cancelled during a retry backoff: {token.reason}")

    @staticmethod
    def _notify(
        on_retry: Callable[[RetryNotice], None],
    ) -> Callable[[tenacity.RetryCallState], None]:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            if error is not None:
                wait = state.upcoming_sleep
                on_retry(RetryNotice(error=error, attempt=state.attempt_number, wait_seconds=wait))

        return before_sleep
