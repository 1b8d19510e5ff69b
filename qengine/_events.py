"""The typed, versioned event model every sink receives."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

EVENT_SCHEMA_VERSION = 1

Scalar = str | int | float | bool | None


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
    RESOURCE_CHANGED = "resource.changed"
    WARNING = "warning"
    LOG = "log"


@attrs.frozen(kw_only=True)
class Event:
    """One event of a job's stream. ``message`` is safe to show: it has been redacted."""

    type: EventType
    time: str
    organization_id: str
    job_id: str
    target_id: str
    message: str
    step_id: str | None = None
    data: Mapping[str, Scalar] = attrs.field(factory=dict)
    schema_version: int = EVENT_SCHEMA_VERSION
