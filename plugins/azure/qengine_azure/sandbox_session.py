"""The Azure stand-ins of a sandbox session, shared by the session's jobs.

The first Azure job of a session starts Azurite (serving that job's state account), the
stand-in Resource Manager and Entra ID and, unless an earlier job of the session started a
cluster (``session.cluster()``), the simulator that is the stand-in cluster's API. They are
published in the session: the settings under :data:`AZURE_SETTINGS`, the stand-in cluster
under :data:`~qengine.plugin.SANDBOX_CLUSTER`. The next jobs (a pause, a delete of the same
cluster, an environment job on it) find the account, the Terraform state and the cluster the
first one made.

A job with an ``acr`` registry (an environment job too) gets the ACR stand-in
(:mod:`qengine_azure.sandbox_acr`: ACR's OAuth2 endpoints in front of a local Distribution
registry), started once per session under :data:`AZURE_ACR`, with the stand-in Entra ID of the
session's Azure stand-ins, or one of its own when no Azure cluster job came first.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine_azure.settings import AzureSettings

if TYPE_CHECKING:
    from qengine_azure.spec import AcrRegistry

#: The session's Azure sandbox settings (the local stand-ins, the stand-in cluster).
AZURE_SETTINGS: SessionKey[AzureSettings] = SessionKey("azure.settings", AzureSettings)


@attrs.frozen
class SandboxAcr:
    """The session's ACR stand-in: the settings that reach it (its Entra ID, CA, endpoint)
    and the data plane's URL."""

    settings: AzureSettings
    registry_url: str


#: The session's ACR stand-in.
AZURE_ACR: SessionKey[SandboxAcr] = SessionKey("azure.acr", SandboxAcr)


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


def acr_settings(
    session: SandboxSession, section: AcrRegistry, base: AzureSettings | None
) -> AzureSettings:
    """``base`` (or, without it, settings of their own) with the session's ACR stand-in as
    every login server's data plane, starting the stand-in the first time. Refuses, naming
    the package, a host without ``docker-registry``."""
    found = session.get(AZURE_ACR)
    if found is None:
        found = _start_acr(session, section, base)
        session.put(AZURE_ACR, found)
    start = base if base is not None else found.settings
    url = found.registry_url
    return attrs.evolve(start, acr_endpoint=lambda login_server: url)


def _start_acr(
    session: SandboxSession, section: AcrRegistry, base: AzureSettings | None
) -> SandboxAcr:
    from qengine_azure.local_arm import LocalArm
    from qengine_azure.local_tls import make_tls
    from qengine_azure.sandbox_acr import require_registry_binary, run_acr

    require_registry_binary()
    root = Path(session.stack.enter_context(tempfile.TemporaryDirectory(prefix="qengine-acr-")))
    arm = base.stand_in if base is not None else None
    settings = base
    if arm is None or settings is None:
        tls = make_tls(root / "tls", ("localhost",))
        arm = session.stack.enter_context(LocalArm(tls))
        settings = AzureSettings(arm_endpoint=arm.url, authority=arm.url, ca_file=tls.ca)
    running = session.stack.enter_context(run_acr(root / "acr", arm, tenant=section.tenant_id))
    return SandboxAcr(settings=settings, registry_url=running.registry.url)
