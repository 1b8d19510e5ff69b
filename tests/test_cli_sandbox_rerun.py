"""A sandbox run is a fresh cluster every time: running an example twice deploys it twice,
and a sandbox run leaves no journal a later (real) run of the same job would resume from."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import QUICKSTART, qengine


def _statuses(stdout: str) -> list[tuple[str, str]]:
    return [(s["step_id"], s["status"]) for s in json.loads(stdout)["steps"]]


def test_a_second_sandbox_run_deploys_again(tmp_path: Path) -> None:
    first = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox", "-o", "json")
    assert first.returncode == 0, first.stderr[-2000:]
    again = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox", "-o", "json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert _statuses(again.stdout) == _statuses(first.stdout)
    assert {status for _, status in _statuses(again.stdout)} == {"succeeded"}
    assert "already done by an earlier run" not in again.stderr


def test_a_sandbox_run_leaves_the_state_directory_journal_alone(tmp_path: Path) -> None:
    """So a real run of the job (a kubeconfig) later finds nothing done; the audit log still
    tells the run happened, and the recap points at `qengine history`."""
    ran = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox")
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "qengine history" in ran.stderr
    status = qengine(tmp_path, "status", "quickstart-0001")
    assert status.returncode == 2
    assert "has no job 'quickstart-0001'" in status.stderr or "no state store" in status.stderr
    assert "`qengine history` lists the jobs" in status.stderr
    history = qengine(tmp_path, "history", "-o", "json")
    assert [(j["job_id"], j["result"]) for j in json.loads(history.stdout)] == [
        ("quickstart-0001", "succeeded")
    ]


def test_with_an_explicit_state_dir_a_rerun_says_why_it_does_nothing(tmp_path: Path) -> None:
    """The documented exception: a sandbox run given --state-dir journals there, so a rerun
    finds the job done; it says so at once, and how to deploy again."""
    state = str(tmp_path / "state")
    first = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox", "--state-dir", state)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "note: the journal" not in first.stderr
    again = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox", "--state-dir", state)
    assert again.returncode == 0
    note = again.stderr.splitlines()[0]
    assert note.startswith(f"note: the journal of {state} has job 'quickstart-0001'")
    assert "run without --state-dir" in note


def test_a_sandbox_plan_after_a_sandbox_run_plans_everything_again(tmp_path: Path) -> None:
    """The plan asks a fresh sandbox cluster and no earlier run's journal: all to create."""
    ran = qengine(tmp_path, "run", str(QUICKSTART), "--sandbox")
    assert ran.returncode == 0, ran.stderr[-2000:]
    plan = qengine(tmp_path, "plan", str(QUICKSTART), "--sandbox", "-o", "json")
    assert plan.returncode == 0, plan.stderr[-2000:]
    summary = json.loads(plan.stdout)["summary"]
    assert (summary["create"], summary["steps_done"]) == (18, 0)
