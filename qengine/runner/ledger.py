"""The write-ahead batch of one scheduler turn: journal records, then the events they back.

The scheduler appends the records of steps that ended and of steps about to start, and the
events that announce them; :meth:`Ledger.flush` makes the records durable in one store call
and only then emits the events, so no sink hears of a step the journal does not know about.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from qengine._events import EventType, Scalar
from qengine.interfaces.state import StateStore, StepRecord
from qengine.runner.events import EventBus

__all__ = ["Ledger"]


@attrs.frozen
class _Announcement:
    type: EventType
    message: str
    step_id: str | None
    data: Mapping[str, Scalar]


class Ledger:
    """Pending journal records and events of one job run; used by its scheduler thread only."""

    def __init__(self, store: StateStore, bus: EventBus) -> None:
        self._store = store
        self._bus = bus
        self._records: list[StepRecord] = []
        self._announcements: list[_Announcement] = []

    def record(self, record: StepRecord) -> None:
        """Queue ``record`` for the next flush."""
        self._records.append(record)

    def announce(
        self,
        event_type: EventType,
        message: str,
        step_id: str | None = None,
        data: Mapping[str, Scalar] | None = None,
    ) -> None:
        """Queue an event, emitted once the records queued before the flush are durable."""
        self._announcements.append(_Announcement(event_type, message, step_id, data or {}))

    def flush(self) -> None:
        """Write the queued records in one call, then emit the queued events in order."""
        if self._records:
            self._store.record_steps(self._records)
            self._records = []
        announcements, self._announcements = self._announcements, []
        for item in announcements:
            self._bus.emit(item.type, item.message, step_id=item.step_id, data=item.data)
