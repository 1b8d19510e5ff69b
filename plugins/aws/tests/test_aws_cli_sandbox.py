"""``qengine run examples/aws-eks/job.json --sandbox`` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def _qengine(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_sandbox_run_creates_the_stand_in_cluster_and_says_it_is_a_sandbox(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    result = _qengine(
        tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state, "--output", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SANDBOX" in result.stderr
    assert "127.0.0.1 - -" not in result.stderr  # the moto request log stays quiet
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    assert [s["step_id"] for s in outcome["steps"]] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.apply",
    ]
    again = _qengine(tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state)
    assert again.returncode == 0  # the journal says it finished: nothing is redone


def test_run_without_sandbox_needs_sealed_secrets(tmp_path: Path) -> None:
    result = _qengine(tmp_path, "run", str(EXAMPLE), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "carries no sealed secrets" in result.stderr
