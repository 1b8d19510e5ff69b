"""The request log: every request the simulator answered, readable in-process and over HTTP."""

from __future__ import annotations

import collections
import threading
from typing import Any

import attrs

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@attrs.frozen(kw_only=True)
class RequestRecord:
    """One answered request. ``status`` is 0 for a dropped connection."""

    method: str
    path: str
    query: str
    content_type: str
    status: int
    time: float
    duration: float
    user_agent: str = ""

    @property
    def mutating(self) -> bool:
        """Whether the request could change state (POST, PUT, PATCH, DELETE)."""
        return self.method in MUTATING

    def to_json(self) -> dict[str, Any]:
        """The record as sent by ``GET /_sim/requests``."""
        return attrs.asdict(self)


@attrs.frozen
class Arrival:
    """One request as it arrived, before any answer: a watch counts from its start."""

    method: str
    path: str
    query: str = ""

    @property
    def mutating(self) -> bool:
        """Whether the request could change state (POST, PUT, PATCH, DELETE)."""
        return self.method in MUTATING


class RequestLog:
    """A bounded, thread-safe log of :class:`RequestRecord`, and of :class:`Arrival`."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._records: collections.deque[RequestRecord] = collections.deque(maxlen=limit)
        self._arrivals: collections.deque[Arrival] = collections.deque(maxlen=limit)

    def arrived(self, arrival: Arrival) -> None:
        """Note a request as it arrives (the oldest go when the log is full)."""
        with self._lock:
            self._arrivals.append(arrival)

    def add(self, record: RequestRecord) -> None:
        """Append a record (the oldest go when the log is full)."""
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        """A snapshot of the log, oldest first."""
        with self._lock:
            return list(self._records)

    def arrivals(self) -> list[Arrival]:
        """Every request that arrived, oldest first, answered or not."""
        with self._lock:
            return list(self._arrivals)

    def clear(self) -> None:
        """Empty the log."""
        with self._lock:
            self._records.clear()
            self._arrivals.clear()
