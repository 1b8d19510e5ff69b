"""Running the real ``qengine`` command with the public test plugin, as a user would.

Imported as ``e2e.support`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qengine.testing.steps import StepRecorder


def child_env(tmp: Path) -> dict[str, str]:
    """An explicit environment: PATH, a private HOME, and nothing of the host's secrets."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
    }


def qengine_argv(*args: str) -> list[str]:
    """``python -m qengine -p qengine.testing.plugin ARGS``."""
    return [sys.executable, "-m", "qengine", "-p", "qengine.testing.plugin", *args]


def run_qengine(tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the command to completion."""
    return subprocess.run(
        qengine_argv(*args),
        env=child_env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_qengine(tmp: Path, *args: str) -> subprocess.Popen[str]:
    """Start the command in the background."""
    return subprocess.Popen(
        qengine_argv(*args),
        env=child_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_job(
    tmp: Path, steps: str, *, job_id: str = "job-1", env_id: str = "env-1", **target: Any
) -> Path:
    """Write an environment job on the test target; returns its path."""
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": steps, "record": str(tmp / f"{job_id}.log"), **target},
        "environment": {"id": env_id, "name": env_id},
    }
    path = tmp / f"{job_id}.json"
    path.write_text(json.dumps(document))
    return path


def recorded(tmp: Path, job_id: str = "job-1") -> list[tuple[str, str]]:
    """What the job's steps did, in order: (action, step id)."""
    log = tmp / f"{job_id}.log"
    return StepRecorder.read_log(log) if log.exists() else []


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill a process the test started, if it still runs."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
