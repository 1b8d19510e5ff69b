"""The sandbox: an environment job whose target is ``sandbox`` runs against the in-process
Kubernetes API simulator (``qengine.testing.kube``), started for the run and stopped after it.
"""

from __future__ import annotations

import attrs

from qengine.plugin import SANDBOX_CLUSTER, SandboxCluster, SandboxSession
from qengine.spec import EnvironmentJob, Job
from qengine_kubernetes.settings import KubeSettings
from qengine_kubernetes.spec import SandboxTarget

SANDBOX_NOTICE = (
    "SANDBOX: the cluster is the in-process Kubernetes API simulator; nothing really runs."
)


def sandbox_settings(
    job: Job, session: SandboxSession, host: KubeSettings | None = None
) -> KubeSettings | None:
    """The settings of a sandbox environment job: the session's cluster, or a new simulator.

    A cluster an earlier job of the session started (the stand-in cluster of a sandbox
    infrastructure job, or the simulator of an earlier environment job) is reused, so jobs
    run one after the other in one session see each other's work; the target's
    ``readiness_delay`` then has no effect. Otherwise a simulator is started on the session's
    stack and published as the session's cluster (:data:`~qengine.plugin.SANDBOX_CLUSTER`).
    Of the ``host``'s settings, all but where the cluster is (endpoint, kubeconfig, context,
    credentials) are kept.
    """
    if not isinstance(job, EnvironmentJob) or not isinstance(job.target, SandboxTarget):
        return None
    cluster = session.cluster()
    if cluster is None:
        from qengine.testing.kube import KubeSimulator

        simulator = session.stack.enter_context(
            KubeSimulator(readiness_delay=job.target.readiness_delay)
        )
        ca = simulator.ca_pem
        ca_text = ca.decode("ascii") if isinstance(ca, bytes) else str(ca)
        cluster = SandboxCluster(endpoint=simulator.url, ca_pem=ca_text, token=simulator.token)
        session.put(SANDBOX_CLUSTER, cluster)
    return attrs.evolve(
        host or KubeSettings(),
        endpoint=cluster.endpoint,
        kubeconfig=None,
        context=None,
        ca_pem=cluster.ca_pem,
        token=cluster.token,
    )
