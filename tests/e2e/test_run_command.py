"""``qengine run`` end to end: real processes, the SQLite journal, events, audit, signals."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import jsonschema
from e2e.support import (
    recorded,
    run_qengine,
    start_qengine,
    stop,
    wait_for,
    write_job,
)

from qengine._events import event_json_schema


def test_run_succeeds_with_valid_events_and_a_verifiable_audit_log(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a; b <- a; c <- a; d <- b,c")
    events = tmp_path / "events.jsonl"
    result = run_qengine(
        tmp_path,
        "run",
        str(spec),
        "--state-dir",
        str(tmp_path / "state"),
        "--events",
        str(events),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    assert [s["status"] for s in outcome["steps"]] == ["succeeded"] * 4
    validator = jsonschema.Draft202012Validator(event_json_schema())
    lines = events.read_text().splitlines()
    for line in lines:
        validator.validate(json.loads(line))
    assert json.loads(lines[-1])["type"] == "job.finished"
    assert "Job job-1 succeeded" in result.stderr
    verify = run_qengine(tmp_path, "audit", "verify", str(tmp_path / "state" / "audit.jsonl"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    actions = [
        json.loads(x)["action"]
        for x in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    ]
    assert actions[0] == "job.accepted"
    assert actions[-1] == "job.finished"
    assert actions.count("step.succeeded") == 4


def test_failure_rolls_back_in_reverse_and_exits_1(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a; b <- a; c:fail <- b; d <- c")
    result = run_qengine(
        tmp_path, "run", str(spec), "--state-dir", str(tmp_path / "state"), "--output", "json"
    )
    assert result.returncode == 1
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "failed"
    assert outcome["rolled_back"] == ["b", "a"]
    statuses = {s["step_id"]: s["status"] for s in outcome["steps"]}
    assert statuses == {"a": "succeeded", "b": "succeeded", "c": "failed", "d": "cancelled"}
    assert [a for a, _ in recorded(tmp_path)].count("compensate") == 2


def test_plan_runs_nothing(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a; b <- a")
    result = run_qengine(
        tmp_path, "plan", str(spec), "--state-dir", str(tmp_path / "state"), "--output", "json"
    )
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)["steps"]] == ["a", "b"]
    assert recorded(tmp_path) == []


def test_second_job_on_a_locked_target_exits_4_then_waits(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    holder = start_qengine(
        tmp_path, "run", str(write_job(tmp_path, "a:sleep=3")), "--state-dir", state
    )
    try:
        wait_for(
            lambda: (
                ("run", "a") in recorded(tmp_path)
                or bool([x for x in recorded(tmp_path) if x[1] == "a"])
            )
        )
        other = write_job(tmp_path, "x", job_id="job-2")
        locked = run_qengine(tmp_path, "run", str(other), "--state-dir", state)
        assert locked.returncode == 4
        assert "locked" in locked.stderr
        assert "job-1" in locked.stderr
        waited = run_qengine(tmp_path, "run", str(other), "--state-dir", state, "--wait-lock", "30")
        assert waited.returncode == 0, waited.stderr
    finally:
        stop(holder)


def test_sigterm_cancels_gracefully_with_rollback(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a; b:hang <- a")
    process = start_qengine(
        tmp_path, "run", str(spec), "--state-dir", str(tmp_path / "state"), "--output", "json"
    )
    try:
        wait_for(lambda: any(step == "b" for _, step in recorded(tmp_path)))
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        stop(process)
    assert process.returncode == 3, stderr
    outcome = json.loads(stdout)
    assert outcome["status"] == "cancelled"
    assert outcome["rolled_back"] == ["a"]
    assert "b" in outcome["left_in_place"]
    status = run_qengine(tmp_path, "status", "job-1", "--state-dir", str(tmp_path / "state"))
    assert "cancelled" in status.stdout


def test_kill_9_then_rerun_resumes_without_redoing_finished_steps(tmp_path: Path) -> None:
    spec = write_job(tmp_path, "a; b <- a; c:hang <- b; d <- c")
    state = str(tmp_path / "state")
    process = start_qengine(tmp_path, "run", str(spec), "--state-dir", state)
    wait_for(lambda: any(step == "c" for _, step in recorded(tmp_path)))
    stop(process)  # SIGKILL: no cleanup, the journal says c was in flight
    interrupted = run_qengine(tmp_path, "status", "job-1", "--state-dir", state)
    assert "unfinished" in interrupted.stdout
    # The same job, with c no longer hanging: a and b are not redone.
    write_job(tmp_path, "a; b <- a; c <- b; d <- c")
    resumed = run_qengine(tmp_path, "run", str(spec), "--state-dir", state, "--output", "json")
    assert resumed.returncode == 0, resumed.stderr
    runs = [step for action, step in recorded(tmp_path) if action == "run"]
    assert runs.count("a") == 1
    assert runs.count("b") == 1
    assert runs.count("d") == 1
    statuses = {s["step_id"]: s["status"] for s in json.loads(resumed.stdout)["steps"]}
    assert statuses["a"] == statuses["b"] == "skipped"
