"""The GCP stand-ins of a sandbox session, shared by the session's jobs.

The first GCP job of a session starts the local Cloud Storage and, unless an earlier job of
the session started a cluster (``session.cluster()``), the simulator that is the stand-in
cluster's API. Both are published in the session: the settings under :data:`GCP_SETTINGS`,
the stand-in cluster under :data:`~qengine.plugin.SANDBOX_CLUSTER`. The next jobs (a delete
of the same cluster, an environment job on it) find the bucket, the Terraform state and the
cluster the first one made.
"""

from __future__ import annotations

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine_gcp.settings import GcpSettings

#: The session's GCP sandbox settings (the local Cloud Storage, the stand-in cluster).
GCP_SETTINGS: SessionKey[GcpSettings] = SessionKey("gcp.settings", GcpSettings)


def session_settings(session: SandboxSession) -> GcpSettings:
    """The session's GCP sandbox settings, starting the stand-ins the first time."""
    found = session.get(GCP_SETTINGS)
    if found is not None:
        return found
    from qengine_gcp.sandbox import sandbox_gcp

    shared = session.cluster()
    settings = session.stack.enter_context(sandbox_gcp(shared))
    session.put(GCP_SETTINGS, settings)
    if shared is None and settings.sandbox is not None:
        session.put(SANDBOX_CLUSTER, settings.sandbox)
    return settings
