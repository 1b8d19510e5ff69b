"""The AWS stand-ins of a sandbox session, shared by the session's jobs.

The first AWS job of a session starts moto and, unless an earlier job of the session started
a Kubernetes cluster, the simulator that is the stand-in cluster's API; both are published in
the session (``aws.settings`` and ``qengine.SandboxSession.kube_cluster()``), so the next jobs
(pause, resume, delete of the same cluster, or an environment job on it) find the state
bucket, the Terraform state and the cluster the first one made.
"""

from __future__ import annotations

from qengine._sandbox import KUBE_CLUSTER, SandboxKubeCluster, SandboxSession
from qengine_aws.settings import AwsSettings, SandboxCluster

#: ``SandboxSession.shared`` key of the session's :class:`AwsSettings`.
SESSION_KEY = "aws.settings"


def session_settings(session: SandboxSession) -> AwsSettings:
    """The session's AWS sandbox settings, starting moto (and a cluster) the first time."""
    found = session.shared.get(SESSION_KEY)
    if isinstance(found, AwsSettings):
        return found
    from qengine_aws.sandbox import sandbox_aws

    shared = session.kube_cluster()
    cluster = (
        None
        if shared is None
        else SandboxCluster(endpoint=shared.endpoint, ca_pem=shared.ca_pem, token=shared.token)
    )
    settings = session.stack.enter_context(sandbox_aws(cluster))
    session.shared[SESSION_KEY] = settings
    if shared is None and settings.sandbox is not None:
        stand_in = settings.sandbox
        session.shared[KUBE_CLUSTER] = SandboxKubeCluster(
            endpoint=stand_in.endpoint, ca_pem=stand_in.ca_pem, token=stand_in.token
        )
    return settings
