"""Helpers of the runner's tests: a fast retry policy, and real Python processes.

Imported as ``runner.support``: pytest puts ``tests/`` on ``sys.path`` for this package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from qengine.retry import RetryPolicy

FAST_RETRY = RetryPolicy(max_attempts=4, max_elapsed_seconds=5.0, initial_backoff=0.01)

REPO = Path(__file__).resolve().parents[2]
JOB_SCRIPT = Path(__file__).with_name("job_script.py")


def child_env() -> dict[str, str]:
    """The environment the tests' subprocesses get: only what they need."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(REPO)}


def start_job(
    state_dir: Path, job_id: str, plan: str, log: Path, *extra: str
) -> subprocess.Popen[str]:
    """Start ``job_script.py`` for ``plan``; stdout is captured as text."""
    argv = [sys.executable, str(JOB_SCRIPT), "--state-dir", str(state_dir), "--job-id", job_id]
    argv += ["--plan", plan, "--log", str(log), *extra]
    return subprocess.Popen(argv, env=child_env(), stdout=subprocess.PIPE, text=True)


def python(code: str) -> subprocess.Popen[str]:
    """Start ``python -c code`` with pipes for stdin and stdout."""
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
