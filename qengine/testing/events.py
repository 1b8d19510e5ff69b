"""An event sink for tests: keeps every event and checks each against the event schema.

``RecordingSink`` validates the JSON form of every event it receives with ``jsonschema``
(a test dependency, imported when the sink is made), so a plugin's test that runs a job
through it also proves the plugin's events are well-formed.
"""

from __future__ import annotations

import json

from qengine._events import Event, EventType, event_json_schema
from qengine.interfaces.events import EventSink

__all__ = ["RecordingSink"]


class RecordingSink(EventSink):
    """Keeps the events of a job, in order, after validating each one's JSON line."""

    def __init__(self) -> None:
        import jsonschema  # a test dependency: imported only when a test makes this sink

        self.events: list[Event] = []
        self.closed = False
        self._validator = jsonschema.Draft202012Validator(event_json_schema())

    def emit(self, event: Event) -> None:
        """Validate ``event``'s JSON line (raising on a schema violation) and keep it."""
        self._validator.validate(json.loads(event.to_json()))
        self.events.append(event)

    def close(self) -> None:
        """Note that the job closed its sinks."""
        self.closed = True

    def types(self, step_id: str | None = None) -> list[str]:
        """The event types seen, in order; only ``step_id``'s when given."""
        return [e.type.value for e in self.events if step_id is None or e.step_id == step_id]

    def of_type(self, event_type: EventType) -> list[Event]:
        """The events of one type, in order."""
        return [event for event in self.events if event.type is event_type]
