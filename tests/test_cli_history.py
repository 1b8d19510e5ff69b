"""``qengine history``: past jobs newest first from the audit log; ``qengine completion``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import child_env, qengine

from qengine._cli.history import past_jobs


def _job(tmp: Path, job_id: str, steps: str) -> Path:
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": steps},
        "environment": {"id": f"env-{job_id}", "name": "env"},
    }
    path = tmp / f"{job_id}.json"
    path.write_text(json.dumps(document))
    return path


def _run(tmp: Path, spec: Path) -> int:
    done = qengine(tmp, "-p", "qengine.testing.plugin", "run", str(spec), "--state-dir", "s")
    return done.returncode


def test_history_lists_past_jobs_newest_first(tmp_path: Path) -> None:
    assert _run(tmp_path, _job(tmp_path, "first", "a")) == 0
    assert _run(tmp_path, _job(tmp_path, "second", "a; b:fail <- a")) == 1
    assert _run(tmp_path, _job(tmp_path, "third", "a")) == 0
    listed = qengine(tmp_path, "history", "--state-dir", "s", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert [(j["job_id"], j["result"]) for j in jobs] == [
        ("third", "succeeded"),
        ("second", "failed"),
        ("first", "succeeded"),
    ]
    assert {(j["kind"], j["action"]) for j in jobs} == {("EnvironmentJob", "deploy")}
    assert jobs[0]["target"] == "environment/env-third"
    assert all(j["duration_seconds"] >= 0 for j in jobs)
    assert jobs[0]["started"] > jobs[1]["started"] > jobs[2]["started"]
    text = qengine(tmp_path, "history", "--state-dir", "s", "--limit", "2")
    lines = text.stdout.splitlines()
    assert lines[0].split() == [
        "JOB", "KIND", "ACTION", "TARGET", "STARTED", "DURATION", "RESULT"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["third", "second"]
    assert lines[2].split()[-1] == "failed"


def test_history_of_a_new_state_directory_is_empty(tmp_path: Path) -> None:
    done = qengine(tmp_path, "history", "--state-dir", "nothing-here")
    assert (done.returncode, done.stdout.startswith("no job has run with ")) == (0, True)
    assert qengine(tmp_path, "history", "--limit", "0").returncode == 2
    both = qengine(tmp_path, "history", "--state-dir", "s", "--audit-log", "s/audit.jsonl")
    assert both.returncode == 2
    assert "error: --audit-log and --state-dir both say where the history is" in both.stderr


def test_a_run_that_never_finished_and_a_refusal() -> None:
    accepted = {"action": "job.accepted", "job_id": "j", "target": "cluster/c"}
    refused = {"action": "job.refused", "job_id": "k", "outcome": "refused"}
    records = [
        accepted | {"time": "2026-01-01T00:00:00Z", "details": {"job_action": "create"}},
        refused | {"time": "2026-01-01T00:00:01Z", "details": {"reason": "expired"}},
    ]
    newest, oldest = past_jobs(records)
    assert (newest.job_id, newest.result) == ("k", "refused (expired)")
    assert (oldest.kind, oldest.action, oldest.result) == (
        "InfrastructureJob",
        "create",
        "unfinished",
    )
    assert oldest.duration() is None


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_prints_a_script_that_knows_the_commands(tmp_path: Path, shell: str) -> None:
    done = qengine(tmp_path, "completion", shell)
    assert done.returncode == 0, done.stderr
    for word in ("validate", "history", "completion", "--sandbox", "--state-dir"):
        assert word in done.stdout
    assert "--kubeconfig" in done.stdout  # a plugin's option of run and plan


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_a_command_from_the_script(tmp_path: Path) -> None:
    script = tmp_path / "qengine.bash"
    script.write_text(qengine(tmp_path, "completion", "bash").stdout)
    complete = (
        f"source {script}; COMP_WORDS=(qengine hist); COMP_CWORD=1; COMP_LINE='qengine hist'; "
        'COMP_POINT=${#COMP_LINE}; _shtab_qengine; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", complete], env=child_env(tmp_path), capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.stdout.split() == ["history"], done.stderr
