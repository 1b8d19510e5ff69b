"""Cooperative cancellation: one token per job, checked at safe points."""

from __future__ import annotations

import threading

from qengine._errors import CancelledError


class CancelToken:
    """A job's cancellation flag, shared by the runner and every plugin operation of the job.

    ``cancel()`` asks politely; ``cancel(force=True)`` (a second signal) asks plugins to stop
    at once, killing subprocesses without a grace period. Thread-safe.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._forced = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled", *, force: bool = False) -> None:
        """Request cancellation; a second request with ``force=True`` escalates."""
        if not self._event.is_set():
            self.reason = reason
        self._event.set()
        if force:
            self._forced.set()

    @property
    def cancelled(self) -> bool:
        """True once cancellation was requested."""
        return self._event.is_set()

    @property
    def forced(self) -> bool:
        """True once a forced cancellation was requested."""
        return self._forced.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep up to ``timeout`` seconds, waking early on cancellation; True if cancelled."""
        return self._event.wait(timeout)

    def raise_if_cancelled(self) -> None:
        """Raise :class:`~qengine.CancelledError` at a safe point if cancellation was requested."""
        if self._event.is_set():
            raise CancelledError(f"job cancelled: {self.reason}")
