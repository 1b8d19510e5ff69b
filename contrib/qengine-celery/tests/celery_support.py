"""Job specs and result helpers of the Celery integration's tests (imported as
``celery_support``)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class Worker:
    """One ``celery worker`` process (concurrency 1), its log, and its process group."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        argv = [sys.executable, "-m", "celery", "-A", "qengine_celery.worker", "worker"]
        argv += ["--concurrency", "1", "--prefetch-multiplier", "1", "-Q", "qengine"]
        argv += ["-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while "ready." not in self.text():
            assert self.process.poll() is None, f"worker {self.name} died:\n{self.text()[-3000:]}"
            assert time.monotonic() < deadline, f"worker {self.name} not ready:\n{self.text()}"
            time.sleep(0.1)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def group_signal(self, number: int) -> None:
        """Signal the whole worker (main process and child), as a machine would be."""
        os.killpg(self.process.pid, number)

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` is this worker's main process or one of its children."""
        try:
            return os.getpgid(pid) == self.process.pid
        except ProcessLookupError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.group_signal(signal.SIGCONT)
                self.group_signal(signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.group_signal(signal.SIGKILL)
                self.process.wait(timeout=20)
        # The child may outlive a killed main process for a moment: end the group.
        with contextlib.suppress(ProcessLookupError):
            self.group_signal(signal.SIGKILL)


StartWorkers = Callable[..., list[Worker]]


def container_job(job_id: str, env_id: str, kubeconfig: Path, tag: str = "1.0") -> dict[str, Any]:
    """An environment job deploying one container service to the simulator."""
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "kubeconfig", "path": str(kubeconfig)},
        "environment": {
            "id": env_id,
            "name": env_id,
            "services": [
                {
                    "kind": "container",
                    "name": "web",
                    "image": "registry.example/web",
                    "tag": tag,
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def events_of(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The events of ``kind`` in a task's result."""
    return [e for e in result.get("events", []) if e["type"] == kind]


def dump(result: dict[str, Any]) -> str:
    """For assertion messages."""
    return json.dumps({k: v for k, v in result.items() if k != "events"}, indent=1)[-3000:]
