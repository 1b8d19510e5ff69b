"""Real processes: resume after kill -9, graceful cancellation on SIGTERM."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import jsonschema

from qengine._events import event_json_schema
from qengine.interfaces.state import StepRecord, StepState
from qengine.runner import SqliteStateStore
from qengine.testing.steps import StepRecorder
from runner.support import start_job, wait_until

PLAN = "a; b <- a; h:hang:hash=h1{reconcile} <- b; c <- h"


def _records(state_dir: Path, job_id: str) -> list[StepRecord]:
    store = SqliteStateStore(state_dir)
    try:
        return list(store.step_records(job_id))
    finally:
        store.close()


def _ran(log: Path, action: str, step: str) -> bool:
    return (action, step) in StepRecorder.read_log(log)


def _crash_while_h_hangs(state_dir: Path, log: Path, reconcile: str) -> None:
    child = start_job(state_dir, "job-crash", PLAN.format(reconcile=reconcile), log)
    wait_until(lambda: _ran(log, "run", "h"))
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    states = {r.step_id: r.status for r in _records(state_dir, "job-crash")}
    assert states == {"a": StepState.SUCCEEDED, "b": StepState.SUCCEEDED, "h": StepState.STARTED}


def test_resume_after_kill_9_reconciles_the_step_in_flight(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "steps.log"
    _crash_while_h_hangs(state_dir, log, ":reconcile=done")
    again = start_job(state_dir, "job-crash", PLAN.format(reconcile=":reconcile=done"), log)
    out, _ = again.communicate(timeout=30)
    assert again.returncode == 0, out
    summary = json.loads(out)
    assert summary["steps"] == {"a": "skipped", "b": "skipped", "h": "succeeded", "c": "succeeded"}
    assert StepRecorder.read_log(log) == [
        ("run", "a"),
        ("run", "b"),
        ("run", "h"),
        ("reconcile", "h"),
        ("run", "c"),
    ]
    assert {r.status for r in _records(state_dir, "job-crash")} == {StepState.SUCCEEDED}
    # The lock the killed process held was taken over, and released by the second run.
    store = SqliteStateStore(state_dir)
    assert store.lock_holder("env/demo") is None
    store.close()


def test_resume_after_kill_9_redoes_a_step_that_cannot_reconcile(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "steps.log"
    _crash_while_h_hangs(state_dir, log, "")
    # Same content hash, so the same idempotency key; this time the step completes.
    again = start_job(state_dir, "job-crash", "a; b <- a; h:hash=h1 <- b; c <- h", log)
    out, _ = again.communicate(timeout=30)
    assert again.returncode == 0, out
    runs = [step for action, step in StepRecorder.read_log(log) if action == "run"]
    assert runs == ["a", "b", "h", "h", "c"]


def test_sigterm_cancels_gracefully_with_rollback(tmp_path: Path) -> None:
    state_dir, log, events = tmp_path / "state", tmp_path / "steps.log", tmp_path / "ev.jsonl"
    child = start_job(
        state_dir, "job-term", "a; b <- a; h:hang <- b; c <- h", log, "--events", str(events)
    )
    wait_until(lambda: _ran(log, "run", "h"))
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 3, out
    summary = json.loads(out)
    assert summary["status"] == "cancelled"
    assert summary["rolled_back"] == ["b", "a"]
    assert summary["left_in_place"] == ["h"]
    assert summary["steps"]["c"] == "cancelled"
    assert [s for a, s in StepRecorder.read_log(log) if a == "compensate"] == ["b", "a"]
    states = {r.step_id: r.status for r in _records(state_dir, "job-term")}
    assert states == {
        "a": StepState.COMPENSATED,
        "b": StepState.COMPENSATED,
        "h": StepState.CANCELLED,
    }
    validator = jsonschema.Draft202012Validator(event_json_schema())
    lines = events.read_text().splitlines()
    for line in lines:
        validator.validate(json.loads(line))
    assert json.loads(lines[-1])["data"]["status"] == "cancelled"
    assert "received SIGTERM" in json.loads(lines[-1])["data"]["error"]


def test_a_second_signal_forces_and_skips_rollback(tmp_path: Path) -> None:
    state_dir, log, events = tmp_path / "state", tmp_path / "steps.log", tmp_path / "ev.jsonl"
    child = start_job(
        state_dir, "job-force", "a; s:stuck=20 <- a", log, "--grace", "60", "--events", str(events)
    )
    wait_until(lambda: _ran(log, "run", "s"))
    child.send_signal(signal.SIGTERM)
    # Signals of one kind that arrive together are delivered once: wait for the first to land.
    wait_until(lambda: "cancelling the job" in events.read_text())
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=10)
    assert child.returncode == 3, out
    summary = json.loads(out)
    assert summary["rolled_back"] == []
    assert summary["left_in_place"] == ["s", "a"]
    assert not _ran(log, "compensate", "a")


def test_jobs_in_several_processes_share_one_state_directory(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    plan = "; ".join(["root", *(f"s{i} <- root" for i in range(40)), "end <- s0,s39"])
    children = {
        f"job-{n}": start_job(
            state_dir, f"job-{n}", plan, tmp_path / f"{n}.log", "--target", f"env/{n}"
        )
        for n in range(3)
    }
    for job_id, child in children.items():
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0, (job_id, out)
    for job_id in children:
        records = _records(state_dir, job_id)
        assert len(records) == 42
        assert {r.status for r in records} == {StepState.SUCCEEDED}


def test_a_second_process_on_a_locked_target_exits_4(tmp_path: Path) -> None:
    state_dir, log = tmp_path / "state", tmp_path / "first.log"
    first = start_job(state_dir, "job-first", "h:hang", log)
    wait_until(lambda: _ran(log, "run", "h"))
    second = start_job(state_dir, "job-second", "a", tmp_path / "second.log")
    out, _ = second.communicate(timeout=30)
    assert second.returncode == 4
    assert "job-first" in json.loads(out)["error"]
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=30)
    assert first.returncode == 3
