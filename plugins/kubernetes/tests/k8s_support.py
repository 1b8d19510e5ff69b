"""Constants and helpers shared by the Kubernetes plugin's tests (imported as ``k8s_support``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from qengine_kubernetes.settings import KubeSettings

from qengine import Event, EventType
from qengine.runner import JobResult
from qengine.testing.kube import KubeSimulator

ROOT = Path(__file__).resolve().parents[3]


QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"


ALL_KINDS = ROOT / "tests" / "specs" / "valid" / "all-service-kinds.json"


@attrs.frozen(kw_only=True)
class Deployed:
    """What one run of a job through the engine gave."""

    result: JobResult
    events: list[Event]

    def messages(self, kind: EventType) -> list[str]:
        """The messages of the events of type ``kind``."""
        return [e.message for e in self.events if e.type is kind]


Deploy = Callable[..., Deployed]


def sim_settings(sim: KubeSimulator, **extra: Any) -> KubeSettings:
    """Settings that point the engine at ``sim``."""
    ca = sim.ca_pem
    return KubeSettings(
        endpoint=sim.url,
        ca_pem=ca.decode() if isinstance(ca, bytes) else str(ca),
        token=sim.token,
        **extra,
    )


DEMO_SECRETS = json.loads((ROOT / "examples" / "quickstart" / "secrets.json").read_text())


def is_lease_traffic(path: str) -> bool:
    """Whether a request is about the job's Lease (taken, renewed and released by every
    environment job, whatever it changes) or the namespace that holds Leases."""
    return (
        "/leases" in path
        or path.rstrip("/").endswith("/namespaces/qengine-system")
        or ("/namespaces/qengine-system/" in path)
    )


def mutating(sim: KubeSimulator) -> list[str]:
    """``METHOD path`` of each mutating request in the simulator's log, the job's Lease
    traffic left out (see :func:`is_lease_traffic`)."""
    return [
        f"{r.method} {r.path}"
        for r in sim.requests()
        if r.mutating and not is_lease_traffic(r.path)
    ]
