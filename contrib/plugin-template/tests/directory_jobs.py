"""Job documents of the ``directory`` target, for the tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

SERVICES: list[dict[str, object]] = [
    {
        "kind": "container",
        "name": "web",
        "image": "nginx",
        "tag": "1.27",
        "ports": [{"port": 80, "public": True}],
        "env": {"DB_PASSWORD": {"secret": "db-password"}},
    },
    {"kind": "database", "name": "db", "engine": "postgresql", "version": "16"},
]


def job(
    path: Path,
    *,
    action: str = "deploy",
    job_id: str = "job-1",
    services: Sequence[Mapping[str, object]] | None = None,
    only: tuple[str, ...] = (),
) -> dict[str, object]:
    """An environment job ``shop`` on the directory target at ``path``."""
    document: dict[str, object] = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": job_id,
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": action,
        "target": {"kind": "directory", "path": str(path)},
        "environment": {
            "id": "shop",
            "name": "shop",
            "services": SERVICES if services is None else services,
        },
    }
    if only:
        document["services"] = list(only)
    return document
