"""The simulator's clock: real time plus an offset a test can advance.

CronJob schedules, pod readiness delays and event timestamps read this clock, so a test can
drive time forward (``sim.clock.advance(3600)``) instead of sleeping.
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import UTC, datetime

from qengine._errors import InvalidInputError


class SimClock:
    """Monotonic-enough wall clock with a settable forward offset. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, including the offset."""
        with self._lock:
            return time.time() + self._offset

    def now(self) -> datetime:
        """The current simulated time (UTC)."""
        return datetime.fromtimestamp(self.time(), UTC)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds``."""
        if seconds < 0:
            raise InvalidInputError(
                f"cannot move the simulated clock back ({seconds} s)",
                hint="advance by zero or more seconds; the clock only moves forward",
            )
        with self._lock:
            self._offset += seconds

    def stamp(self) -> str:
        """The current time as an RFC 3339 timestamp with second precision."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def micro_stamp(self) -> str:
        """The current time as an RFC 3339 timestamp with microseconds (MicroTime)."""
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=4096)
def parse_stamp(text: str) -> float:
    """Seconds since the epoch for an RFC 3339 timestamp written by :class:`SimClock`
    (cached: controllers read the same few stamps on every pass)."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
