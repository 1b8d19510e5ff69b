"""Fixtures for the runner's tests: test steps, a fast retry policy, event capture."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from qengine._events import Event, event_json_schema
from qengine.interfaces.events import EventSink
from qengine.retry import RetryPolicy
from qengine.testing.steps import StepFactory

FAST_RETRY = RetryPolicy(max_attempts=4, max_elapsed_seconds=5.0, initial_backoff=0.01)


class Collector(EventSink):
    """Keeps every event it is given, and checks its JSON line against the schema."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False
        self._validator = jsonschema.Draft202012Validator(event_json_schema())

    def emit(self, event: Event) -> None:
        self._validator.validate(json.loads(event.to_json()))
        self.events.append(event)

    def close(self) -> None:
        self.closed = True

    def types(self, step_id: str | None = None) -> list[str]:
        return [e.type.value for e in self.events if step_id is None or e.step_id == step_id]


@pytest.fixture
def factory() -> StepFactory:
    return StepFactory()


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
