"""A closed standard output (``qengine schema | head -1``) ends the command quietly: exit 0 or
141 (a shell's code for a death by SIGPIPE), never an internal error or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import child_env, qengine


def _into_closed_pipe(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with standard output a pipe whose reading end is already closed: every write
    fails, as after ``| head -1`` has read its line (without a race on when it does)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "qengine", *args],
            env=child_env(tmp),
            cwd=tmp,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


def _journal_with_a_job(tmp: Path) -> Path:
    state = tmp / "state"
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "try-1",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "a; b <- a"},
        "environment": {"id": "env-1", "name": "env-1"},
    }
    (tmp / "job.json").write_text(json.dumps(document))
    ran = qengine(tmp, "-p", "qengine.testing.plugin", "run", "job.json", "--state-dir", str(state))
    assert ran.returncode == 0, ran.stderr
    return state


@pytest.mark.parametrize(
    "argv",
    [
        ["schema"],
        ["schema", "--events"],
        ["plugins"],
        ["plugins", "-o", "json"],
        ["status", "try-1", "--state-dir", "STATE"],
        ["history", "--state-dir", "STATE"],
        ["completion", "bash"],
        ["-p", "qengine.testing.plugin", "validate", "job.json"],
    ],
    ids=" ".join,
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    state = _journal_with_a_job(tmp_path)
    done = _into_closed_pipe(tmp_path, *(str(state) if a == "STATE" else a for a in argv))
    assert done.returncode in (0, 141), done.stderr
    assert done.stderr == ""


def test_head_reads_the_first_line(tmp_path: Path) -> None:
    """The shell pipeline itself, as the issue ran it."""
    script = f"{sys.executable} -m qengine schema | head -1; echo ${{PIPESTATUS[0]}}"
    done = subprocess.run(
        ["bash", "-c", script], env=child_env(tmp_path), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.splitlines()[0] == "{"
    assert done.stdout.splitlines()[-1] in ("0", "141")
    assert "internal error" not in done.stderr
