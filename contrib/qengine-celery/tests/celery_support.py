"""Job specs and result helpers of the Celery integration's tests (imported as
``celery_support``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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
