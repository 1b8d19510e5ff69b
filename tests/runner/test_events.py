"""Events: the JSON Schema, the JSON-lines file, the console view and its recap."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest

from qengine._events import EVENT_SCHEMA_VERSION, Event, EventType, event_json_schema
from qengine.runner import ConsoleSink, Executor, JobRef, JsonLinesSink, SqliteStateStore
from qengine.testing.steps import StepFactory, build_plan
from runner.support import FAST_RETRY

JOB = JobRef(job_id="job-ev", organization_id="org-1", target_id="env/ev")
# One job that emits every kind of event but step.skipped, which needs a second run.
BUSY_PLAN = "a:say=hello:log=a line; b:transient=1 <- a; c:failcomp <- a; d:fail <- b,c; e <- d"


def _run_busy(factory: StepFactory, *sinks: object) -> None:
    executor = Executor(retry=FAST_RETRY)
    executor.run(build_plan(factory, BUSY_PLAN), JOB, sinks=list(sinks))  # type: ignore[arg-type]


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = event_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_line_of_the_events_file_is_valid(tmp_path: Path, factory: StepFactory) -> None:
    path = tmp_path / "events.jsonl"
    _run_busy(factory, JsonLinesSink(path))
    store = SqliteStateStore(tmp_path / "state")
    for _ in range(2):  # the second run skips the step the first one did
        Executor(store=store).run(build_plan(factory, "x"), JOB, sinks=[JsonLinesSink(path)])
    store.close()
    assert path.stat().st_mode & 0o777 == 0o600
    validator = jsonschema.Draft202012Validator(
        event_json_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        validator.validate(line)
        datetime.fromisoformat(line["time"])
        assert line["schema_version"] == EVENT_SCHEMA_VERSION
    seen = {line["type"] for line in lines}
    assert seen == {t.value for t in EventType}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "step.exploded"},
        {"data": {"nested": {"no": 1}}},
        {"job_id": ""},
        {"extra": 1},
    ],
    ids=["unknown-type", "nested-data", "empty-job", "extra-key"],
)
def test_the_schema_rejects_malformed_lines(bad: dict[str, object]) -> None:
    event = Event(
        type=EventType.LOG,
        time="2026-01-01T00:00:00Z",
        organization_id="o",
        job_id="j",
        target_id="t",
        message="m",
    )
    line = {**json.loads(event.to_json()), **bad}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(line, event_json_schema())


def test_console_prints_plain_lines_and_a_recap_when_piped(factory: StepFactory) -> None:
    out = io.StringIO()
    _run_busy(factory, ConsoleSink(out))
    text = out.getvalue()
    assert "\x1b[" not in text
    assert "step.failed      d: step d failed as told" in text
    recap = text[text.index("Job job-ev failed in") :]
    assert "Changed:\n  create test-resource a  (a)" in recap
    assert "Failed: d: step d failed as told\n  hint: It is a test step." in recap
    assert "Rolled back: b, a" in recap
    assert "Left as it was: d, c" in recap
    assert "rollback of c failed" in recap
