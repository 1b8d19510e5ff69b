"""The sandbox: an environment job whose target is ``sandbox`` runs against the in-process
Kubernetes API simulator (``qengine.testing.kube``), started for the run and stopped after it.
"""

from __future__ import annotations

from contextlib import ExitStack

from qengine.spec import EnvironmentJob, Job
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import SandboxTarget

SANDBOX_NOTICE = (
    "SANDBOX: the cluster is the in-process Kubernetes API simulator; nothing really runs."
)


def sandbox_settings(job: Job, stack: ExitStack) -> KubeSettings | None:
    """Start a simulator on ``stack`` for a sandbox environment job; its settings."""
    if not isinstance(job, EnvironmentJob) or not isinstance(job.target, SandboxTarget):
        return None
    from qengine.testing.kube import KubeSimulator

    simulator = stack.enter_context(KubeSimulator(readiness_delay=job.target.readiness_delay))
    ca = simulator.ca_pem
    ca_text = ca.decode("ascii") if isinstance(ca, bytes) else str(ca)
    return KubeSettings(endpoint=simulator.url, ca_pem=ca_text, token=simulator.token)
