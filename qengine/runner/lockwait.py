"""Waiting for a target's lock: poll on a cancellable wait, then refuse with exit code 4."""

from __future__ import annotations

import time
from collections.abc import Callable

from qengine._errors import CancelledError, TargetLockedError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.state import LockHolder

__all__ = ["locked_error", "wait_for_lock"]


def locked_error(holder: LockHolder) -> TargetLockedError:
    """The error telling a user who holds ``holder.target``."""
    return TargetLockedError(
        f"target {holder.target!r} is locked by job {holder.owner!r} "
        f"(pid {holder.pid} on {holder.host}, since {holder.acquired_at})"
    )


def wait_for_lock(
    try_once: Callable[[], LockHolder | None],
    *,
    wait_seconds: float,
    cancel: CancelToken | None,
    poll_seconds: float,
) -> None:
    """Call ``try_once`` (None: taken; else the live holder) until it succeeds.

    Polls every ``poll_seconds`` on ``cancel``'s wait, so a cancellation ends the wait at once
    (:class:`~qengine.CancelledError`); raises :class:`~qengine.TargetLockedError` naming
    the holder when ``wait_seconds`` have passed.
    """
    token = cancel if cancel is not None else CancelToken()
    deadline = time.monotonic() + max(wait_seconds, 0.0)
    while True:
        holder = try_once()
        if holder is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise locked_error(holder)
        if token.wait(min(poll_seconds, remaining)):
            raise CancelledError(f"cancelled while waiting for the lock of {holder.target!r}")
