"""The Azure stand-ins of a sandbox session, shared by the session's jobs.

The first Azure job of a session starts Azurite (serving that job's state account), the
stand-in Resource Manager and Entra ID and, unless an earlier job of the session started a
cluster (``session.cluster()``), the simulator that is the stand-in cluster's API. They are
published in the session: the settings under :data:`AZURE_SETTINGS`, the stand-in cluster
under :data:`~qengine.plugin.SANDBOX_CLUSTER`. The next jobs (a pause, a delete of the same
cluster, an environment job on it) find the account, the Terraform state and the cluster the
first one made.
"""

from __future__ import annotations

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine_azure.settings import AzureSettings

#: The session's Azure sandbox settings (the local stand-ins, the stand-in cluster).
AZURE_SETTINGS: SessionKey[AzureSettings] = SessionKey("azure.settings", AzureSettings)


def session_settings(session: SandboxSession, account: str) -> AzureSettings:
    """The session's Azure sandbox settings, starting the stand-ins (Azurite serving
    ``account``) the first time."""
    found = session.get(AZURE_SETTINGS)
    if found is not None:
        return found
    from qengine_azure.sandbox import sandbox_azure

    shared = session.cluster()
    settings = session.stack.enter_context(sandbox_azure((account,), shared))
    session.put(AZURE_SETTINGS, settings)
    if shared is None and settings.sandbox is not None:
        session.put(SANDBOX_CLUSTER, settings.sandbox)
    return settings
