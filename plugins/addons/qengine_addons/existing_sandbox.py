"""The sandbox of an ``existing`` cluster: the session's simulator plays the cluster.

An earlier job of the session that started a cluster (an environment job's simulator, a cloud
plugin's stand-in cluster) is reused; otherwise a simulator reporting the job's
``cluster.kubernetes_version`` is started on the session's stack and published as the
session's cluster (:data:`~qengine.plugin.SANDBOX_CLUSTER`), so an environment job run next in
the same session (the quickstart) deploys onto the cluster whose stack this job installed.
The stack is installed from the package's test stand-in charts, by the host's helm.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from qengine.plugin import SANDBOX_CLUSTER, SandboxCluster, SandboxSession
from qengine.spec import InfrastructureJob, Job
from qengine_addons.existing import ExistingCluster
from qengine_addons.existing_engine import PLUGIN, ExistingSettings

#: How long the simulator's pods take to become ready, as the ``sandbox`` target's default.
READINESS_DELAY = 0.2


def sandbox_settings(
    job: Job, session: SandboxSession, settings: Mapping[str, object]
) -> dict[str, ExistingSettings] | None:
    """The settings of a sandbox run of an ``existing`` cluster job, None for another job; of
    the host's settings, the add-ons' helm is kept."""
    if not isinstance(job, InfrastructureJob) or not isinstance(
        job.cluster.provider, ExistingCluster
    ):
        return None
    cluster = session.cluster()
    if cluster is None:
        from qengine.testing.kube import KubeSimulator

        simulator = session.stack.enter_context(
            KubeSimulator(
                readiness_delay=READINESS_DELAY, server_version=job.cluster.kubernetes_version
            )
        )
        ca = simulator.ca_pem
        ca_text = ca.decode("ascii") if isinstance(ca, bytes) else str(ca)
        cluster = SandboxCluster(endpoint=simulator.url, ca_pem=ca_text, token=simulator.token)
        session.put(SANDBOX_CLUSTER, cluster)
    host = settings.get(PLUGIN)
    helm = host.addons.helm if isinstance(host, ExistingSettings) else None
    return {
        PLUGIN: ExistingSettings(
            endpoint=cluster.endpoint,
            ca_pem=cluster.ca_pem,
            token=cluster.token,
            addons=attrs.evolve(ExistingSettings().addons, helm=helm, test_charts=True),
            sandbox=True,
        )
    }
