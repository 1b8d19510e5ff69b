"""The state of a deployed environment, read from the cluster alone (any machine can).

For each service with a history Secret: its last revision and the job that applied it, and,
for its Deployments and StatefulSets, ready/desired replicas and whether it is paused. This is
what a ``qengine status`` of an environment would show; the command does not call it yet.
"""

from __future__ import annotations

import attrs

from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.diff import PAUSED_REPLICAS, annotation
from qengine_kubernetes.history import HISTORY_LABEL, decode
from qengine_kubernetes.render.labels import SERVICE_ID
from qengine_kubernetes.rollout import readiness


@attrs.frozen(kw_only=True)
class ServiceStatus:
    """One service as the cluster has it."""

    name: str
    revision: int
    job_id: str
    ready: int = 0
    desired: int = 0
    paused: bool = False


def environment_status(api: KubeApi, namespace: str) -> list[ServiceStatus]:
    """Every service of ``namespace`` that qengine deployed, by name."""
    found: list[ServiceStatus] = []
    for secret in api.list("Secret", namespace, f"{HISTORY_LABEL}=true"):
        revisions = decode(secret)
        if not revisions:
            continue
        name = (secret["metadata"].get("labels") or {}).get(SERVICE_ID, "")
        latest = revisions[-1]
        ready = desired = 0
        paused = False
        for obj in latest.objects:
            if obj.get("kind") not in ("Deployment", "StatefulSet"):
                continue
            live = api.get(obj["kind"], namespace, obj["metadata"]["name"])
            if live is None:
                continue
            live.setdefault("kind", obj["kind"])
            got, want, _ = readiness(live)
            ready, desired = ready + got, desired + want
            paused = paused or annotation(live, PAUSED_REPLICAS) is not None
        found.append(
            ServiceStatus(
                name=name,
                revision=latest.number,
                job_id=latest.job_id,
                ready=ready,
                desired=desired,
                paused=paused,
            )
        )
    return sorted(found, key=lambda s: s.name)
