"""The AWS stand-ins of a sandbox session, shared by the session's jobs.

The first AWS job of a session starts moto and, unless an earlier job of the session started
a cluster (``session.cluster()``, e.g. the Kubernetes plugin's simulator), the simulator that
is the stand-in cluster's API. Both are published in the session: the settings under
:data:`AWS_SETTINGS`, the stand-in cluster under :data:`~qengine.plugin.SANDBOX_CLUSTER`. The
next jobs (pause, resume, delete of the same cluster, or an environment job on it) find the
state bucket, the Terraform state and the cluster the first one made.
"""

from __future__ import annotations

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine_aws.settings import AwsSettings

#: The session's AWS sandbox settings (moto's endpoint, the stand-in cluster, fake keys).
AWS_SETTINGS: SessionKey[AwsSettings] = SessionKey("aws.settings", AwsSettings)


def session_settings(session: SandboxSession) -> AwsSettings:
    """The session's AWS sandbox settings, starting moto (and a cluster) the first time."""
    found = session.get(AWS_SETTINGS)
    if found is not None:
        return found
    from qengine_aws.sandbox import sandbox_aws

    shared = session.cluster()
    settings = session.stack.enter_context(sandbox_aws(shared))
    session.put(AWS_SETTINGS, settings)
    if shared is None and settings.sandbox is not None:
        session.put(SANDBOX_CLUSTER, settings.sandbox)
    return settings
