"""The typed, versioned event model every sink receives, and the JSON Schema of its lines.

An event's JSON form (:meth:`Event.to_json`) is one line of a ``--events`` file and the
payload a host's callback can forward. :func:`event_json_schema` describes that line; bump
:data:`EVENT_SCHEMA_VERSION` when a field changes meaning or disappears (new event types and
new ``data`` keys are additions and keep the version).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

import attrs

EVENT_SCHEMA_VERSION = 1

Scalar = str | int | float | bool | None
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class EventType(enum.StrEnum):
    """What an event reports. New members may be added; none is ever renamed."""

    JOB_STARTED = "job.started"
    JOB_FINISHED = "job.finished"
    STEP_STARTED = "step.started"
    STEP_PROGRESS = "step.progress"
    STEP_FINISHED = "step.finished"
    STEP_FAILED = "step.failed"
    STEP_SKIPPED = "step.skipped"
    STEP_CANCELLED = "step.cancelled"
    STEP_COMPENSATED = "step.compensated"
    RESOURCE_CHANGED = "resource.changed"
    WARNING = "warning"
    LOG = "log"


@attrs.frozen(kw_only=True)
class Event:
    """One event of a job's stream. ``message`` is safe to show: it has been redacted.

    ``time`` is an RFC 3339 UTC timestamp; ``step_id`` is None for job-level events.
    """

    type: EventType
    time: str
    organization_id: str
    job_id: str
    target_id: str
    message: str
    step_id: str | None = None
    data: Mapping[str, Scalar] = attrs.field(factory=dict)
    schema_version: int = EVENT_SCHEMA_VERSION

    def to_json_object(self) -> dict[str, JsonValue]:
        """The event as a JSON object, valid against :func:`event_json_schema`."""
        return {
            "schema_version": self.schema_version,
            "type": self.type.value,
            "time": self.time,
            "organization_id": self.organization_id,
            "job_id": self.job_id,
            "target_id": self.target_id,
            "step_id": self.step_id,
            "message": self.message,
            "data": dict(self.data),
        }

    def to_json(self) -> str:
        """The event as one line of compact JSON (no newline)."""
        return json.dumps(self.to_json_object(), separators=(",", ":"), sort_keys=True)


def event_json_schema() -> dict[str, JsonValue]:
    """The JSON Schema (draft 2020-12) of one event line (``qengine schema --events``)."""
    scalar: list[JsonValue] = ["string", "integer", "number", "boolean", "null"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://qengine.dev/schemas/event/v{EVENT_SCHEMA_VERSION}.json",
        "title": "qengine event",
        "type": "object",
        "additionalProperties": False,
        "required": [
            "schema_version",
            "type",
            "time",
            "organization_id",
            "job_id",
            "target_id",
            "step_id",
            "message",
            "data",
        ],
        "properties": {
            "schema_version": {"const": EVENT_SCHEMA_VERSION},
            "type": {"enum": [member.value for member in EventType]},
            "time": {"type": "string", "format": "date-time"},
            "organization_id": {"type": "string"},
            "job_id": {"type": "string", "minLength": 1},
            "target_id": {"type": "string"},
            "step_id": {"type": ["string", "null"]},
            "message": {"type": "string"},
            "data": {"type": "object", "additionalProperties": {"type": scalar}},
        },
    }
