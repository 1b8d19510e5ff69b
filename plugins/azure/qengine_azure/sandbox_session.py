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
registry), started once per session under :data:`AZURE_ACR`.

A session has one stand-in Entra ID (and Resource Manager), :data:`AZURE_ENTRA`, started by
whichever of its jobs needs it first: an AKS job's stand-ins and the ACR stand-in both use it,
in either order, so a token one job's identity gets is one the other's stand-ins know, and
its certificate's CA is the one the session's clients trust.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import SANDBOX_CLUSTER, SandboxSession, SessionKey
from qengine_azure.local_arm import LocalArm
from qengine_azure.settings import AzureSettings

if TYPE_CHECKING:
    from qengine_azure.spec import AcrRegistry

#: The session's Azure sandbox settings (the local stand-ins, the stand-in cluster).
AZURE_SETTINGS: SessionKey[AzureSettings] = SessionKey("azure.settings", AzureSettings)
#: The session's one stand-in Entra ID and Resource Manager.
AZURE_ENTRA: SessionKey[LocalArm] = SessionKey("azure.entra", LocalArm)


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
    entra = session_entra(session)
    settings = session.stack.enter_context(sandbox_azure((account,), shared, entra=entra))
    session.put(AZURE_SETTINGS, settings)
    if shared is None and settings.sandbox is not None:
        session.put(SANDBOX_CLUSTER, settings.sandbox)
    return settings


def session_entra(session: SandboxSession) -> LocalArm:
    """The session's stand-in Entra ID and Resource Manager, started the first time."""
    found = session.get(AZURE_ENTRA)
    if found is not None:
        return found
    from qengine_azure.sandbox import sandbox_entra

    root = Path(session.stack.enter_context(tempfile.TemporaryDirectory(prefix="qengine-entra-")))
    entra = session.stack.enter_context(sandbox_entra(root / "tls"))
    session.put(AZURE_ENTRA, entra)
    return entra


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
    from qengine_azure.sandbox_acr import require_registry_binary, run_acr

    require_registry_binary()
    root = Path(session.stack.enter_context(tempfile.TemporaryDirectory(prefix="qengine-acr-")))
    arm = session_entra(session)
    settings = base
    if settings is None:
        settings = AzureSettings(arm_endpoint=arm.url, authority=arm.url, ca_file=arm.tls.ca)
    running = session.stack.enter_context(run_acr(root / "acr", arm, tenant=section.tenant_id))
    return SandboxAcr(settings=settings, registry_url=running.registry.url)
