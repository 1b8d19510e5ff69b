"""The retry policy: budgets, Retry-After, non-retryable errors, cancellation."""

from __future__ import annotations

import threading
import time

import pytest

from qengine._errors import AuthError, CancelledError, TransientError
from qengine.interfaces.cancel import CancelToken
from qengine.retry import RetryNotice, RetryPolicy


class Flaky:
    """Fails with ``error`` ``failures`` times, then returns "ok"; counts and times calls."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[float] = []

    def __call__(self) -> str:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            raise self.error
        return "ok"


def test_transient_errors_are_retried_until_success() -> None:
    flaky = Flaky(2, TransientError("throttled"))
    notices: list[RetryNotice] = []
    policy = RetryPolicy(initial_backoff=0.001)
    assert policy.call(flaky, on_retry=notices.append) == "ok"
    assert len(flaky.calls) == 3
    assert [notice.attempt for notice in notices] == [1, 2]


def test_attempt_budget_is_respected() -> None:
    flaky = Flaky(100, TransientError("throttled"))
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.001)
    with pytest.raises(TransientError, match="throttled"):
        policy.call(flaky)
    assert len(flaky.calls) == 3


def test_time_budget_is_respected() -> None:
    flaky = Flaky(1000, TransientError("throttled", retry_after=0.1))
    notices: list[RetryNotice] = []
    policy = RetryPolicy(max_attempts=1000, max_elapsed_seconds=0.35)
    started = time.monotonic()
    with pytest.raises(TransientError):
        policy.call(flaky, on_retry=notices.append)
    took = time.monotonic() - started
    # Waits of 0.1s fit three times in 0.35s (fewer on a slow machine); never a fourth.
    assert 2 <= len(flaky.calls) <= 4
    assert sum(notice.wait_seconds for notice in notices) <= 0.35
    assert took < 1.0


def test_retry_after_is_honoured_even_above_max_backoff() -> None:
    flaky = Flaky(1, TransientError("slow down", retry_after=0.3))
    policy = RetryPolicy(initial_backoff=0.001, max_backoff=0.01)
    assert policy.call(flaky) == "ok"
    gap = flaky.calls[1] - flaky.calls[0]
    assert 0.3 <= gap < 1.5


def test_retry_after_beyond_the_budget_fails_without_waiting() -> None:
    flaky = Flaky(1, TransientError("come back in an hour", retry_after=3600))
    policy = RetryPolicy(max_elapsed_seconds=5.0)
    started = time.monotonic()
    with pytest.raises(TransientError, match="an hour"):
        policy.call(flaky)
    assert time.monotonic() - started < 1.0
    assert len(flaky.calls) == 1


def test_backoff_grows_exponentially_with_jitter_bounds() -> None:
    notices: list[RetryNotice] = []
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.004, max_backoff=0.02)
    with pytest.raises(TransientError):
        policy.call(Flaky(100, TransientError("x")), on_retry=notices.append)
    ceilings = [0.004, 0.008, 0.016, 0.02, 0.02]
    assert len(notices) == 5
    for notice, ceiling in zip(notices, ceilings, strict=True):
        assert 0 <= notice.wait_seconds <= ceiling


@pytest.mark.parametrize("error", [AuthError("denied"), ValueError("bug")], ids=["auth", "bug"])
def test_other_errors_fail_at_once_with_their_hint(error: Exception) -> None:
    flaky = Flaky(5, error)
    with pytest.raises(type(error)) as caught:
        RetryPolicy().call(flaky)
    assert caught.value is error
    assert len(flaky.calls) == 1
    if isinstance(error, AuthError):
        assert caught.value.hint == AuthError.default_hint  # type: ignore[attr-defined]


def test_cancellation_interrupts_a_backoff() -> None:
    token = CancelToken()
    flaky = Flaky(5, TransientError("throttled", retry_after=30))
    threading.Timer(0.1, token.cancel, args=("stop",)).start()
    started = time.monotonic()
    with pytest.raises(CancelledError, match="stop"):
        RetryPolicy(max_elapsed_seconds=100).call(flaky, cancel=token)
    assert time.monotonic() - started < 2
    assert len(flaky.calls) == 1


def test_a_cancelled_token_stops_before_the_first_attempt() -> None:
    token = CancelToken()
    token.cancel("early")
    flaky = Flaky(0, TransientError("x"))
    with pytest.raises(CancelledError):
        RetryPolicy().call(flaky, cancel=token)
    assert flaky.calls == []
