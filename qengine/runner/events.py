"""The event bus: builds a job's events, redacts them, and fans them out to sinks.

Every message and every string datum goes through the job's redaction function before any
sink sees it; the security core supplies that function (it knows the job's secret values).
A sink that raises is dropped for the rest of the job, and the others are warned; a broken
sink never fails a job. The bus is thread-safe: steps report from their worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from qengine._events import Event, EventType, Scalar, event_json_schema
from qengine.interfaces.events import EventSink
from qengine.runner.steps import Change, NoteKind, StepEmitter

__all__ = ["BusEmitter", "EventBus", "JobRef", "Redactor", "event_json_schema", "utc_timestamp"]

Redactor = Callable[[str], str]


def _keep(text: str) -> str:
    return text


def utc_timestamp() -> str:
    """Now, as RFC 3339 UTC with microseconds: ``2026-01-31T12:00:00.000000Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@attrs.frozen(kw_only=True)
class JobRef:
    """The ids every event of a job carries; ``target_id`` is also the lock's name."""

    job_id: str = attrs.field(validator=attrs.validators.min_len(1))
    organization_id: str = ""
    target_id: str = ""


class EventBus:
    """Fans one job's events out to its sinks, redacted, in the order they were emitted."""

    def __init__(
        self, job: JobRef, sinks: Sequence[EventSink] = (), *, redact: Redactor = _keep
    ) -> None:
        self.job = job
        self.redact = redact
        self._sinks = list(sinks)
        self._lock = threading.RLock()

    def emit(
        self,
        event_type: EventType,
        message: str,
        *,
        step_id: str | None = None,
        data: Mapping[str, Scalar] | None = None,
    ) -> Event:
        """Build, redact and deliver one event; return it as the sinks saw it."""
        event = Event(
            type=event_type,
            time=utc_timestamp(),
            organization_id=self.job.organization_id,
            job_id=self.job.job_id,
            target_id=self.job.target_id,
            step_id=step_id,
            message=self.redact(message),
            data={key: self._clean(value) for key, value in (data or {}).items()},
        )
        with self._lock:
            for sink in list(self._sinks):
                self._deliver(sink, event)
        return event

    def close(self) -> None:
        """Close every sink; a sink failing to close does not stop the others closing."""
        with self._lock:
            sinks, self._sinks = self._sinks, []
        for sink in sinks:
            try:
                sink.close()
            except Exception:  # noqa: S112 - closing is best effort, the job is over
                continue

    def _clean(self, value: Scalar) -> Scalar:
        return self.redact(value) if isinstance(value, str) else value

    def _deliver(self, sink: EventSink, event: Event) -> None:
        try:
            sink.emit(event)
        except Exception as exc:
            # A broken sink must not fail the job: drop it and tell the others why.
            self._sinks.remove(sink)
            self.emit(
                EventType.WARNING,
                f"event sink {type(sink).__name__} failed and was dropped: {type(exc).__name__}",
            )


class BusEmitter(StepEmitter):
    """Forwards a job's step reports to its bus, and keeps the resource changes for the result."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._changes: list[Change] = []
        self._lock = threading.Lock()

    @property
    def changes(self) -> tuple[Change, ...]:
        """Resource changes reported so far, in the order reported."""
        with self._lock:
            return tuple(self._changes)

    def progress(self, step_id: str, message: str, data: Mapping[str, Scalar]) -> None:
        """Emit ``step.progress``."""
        self._bus.emit(EventType.STEP_PROGRESS, message, step_id=step_id, data=data)

    def resource_changed(self, step_id: str, change: Change, message: str) -> None:
        """Emit ``resource.changed`` and remember the change."""
        with self._lock:
            self._changes.append(change)
        data: dict[str, Scalar] = {
            "action": change.action.value,
            "kind": change.kind,
            "name": change.name,
        }
        self._bus.emit(EventType.RESOURCE_CHANGED, message, step_id=step_id, data=data)

    def note(self, step_id: str, kind: NoteKind, message: str) -> None:
        """Emit ``log`` or ``warning``."""
        event_type = EventType.LOG if kind is NoteKind.LOG else EventType.WARNING
        self._bus.emit(event_type, message, step_id=step_id)
