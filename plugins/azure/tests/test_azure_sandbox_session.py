"""One stand-in Entra ID per sandbox session, whichever job needs it first.

A session whose first job has an ``acr`` registry starts the ACR stand-in; a later AKS job
starts Azurite and the stand-in Resource Manager. Both must use the session's one stand-in
Entra ID, in either order: a token the AKS job's identity gets from it is one the ACR
stand-in's exchange knows, and one CA serves them all. Each test runs the plugin's sandbox
hook as the engine does for each job of a session, against the real stand-ins (Azurite, the
stand-in Entra ID and Resource Manager, the ACR stand-in in front of the real Distribution
registry) and the real azure-identity.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.credentials import AzureAccess
from qengine_azure.plugin import qengine_sandbox
from qengine_azure.sandbox_session import AZURE_ACR, AZURE_ENTRA, AZURE_SETTINGS
from qengine_azure.settings import AzureSettings
from qengine_azure.spec import AcrRegistry

from qengine import SandboxSession, load_plugins
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _aks_job() -> InfrastructureJob:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    job = plugins.loader.load(example())
    assert isinstance(job, InfrastructureJob)
    return job


class _AcrJob:
    """What the sandbox hook reads of an environment job with an ``acr`` registry (the
    environment part needs the Kubernetes plugin and is not looked at)."""

    def __init__(self, like: InfrastructureJob) -> None:
        secret = like.cluster.provider.client_secret  # type: ignore[attr-defined]
        self.registry = AcrRegistry(
            kind="acr",
            name="contosoapps",
            tenant_id=TENANT,
            client_id="12345678-90ab-cdef-1234-567890abcdef",
            client_secret=secret,
        )


def _sandbox(job: Any, session: SandboxSession) -> AzureSettings:
    found = qengine_sandbox(job=job, session=session)
    assert found is not None
    settings = found["azure"]
    assert isinstance(settings, AzureSettings)
    return settings


def _open(name: str) -> SecretValue:
    return SecretValue(DEMO_SECRET)


@pytest.mark.parametrize("order", ["acr-first", "aks-first"])
def test_a_session_has_one_entra_id_whatever_the_job_order(order: str) -> None:
    from qengine_azure.acr_auth import AcrTokens, Http

    aks_job = _aks_job()
    acr_job = _AcrJob(aks_job)
    with SandboxSession() as session:
        if order == "acr-first":
            acr = _sandbox(acr_job, session)
            aks = _sandbox(aks_job, session)
        else:
            aks = _sandbox(aks_job, session)
            acr = _sandbox(acr_job, session)
        entra = session.get(AZURE_ENTRA)
        assert entra is not None
        assert aks.stand_in is entra
        assert aks.authority == acr.authority == entra.url
        assert aks.ca_file == acr.ca_file == entra.tls.ca
        shared = session.get(AZURE_SETTINGS)
        assert shared is not None
        assert shared.stand_in is entra
        running = session.get(AZURE_ACR)
        assert running is not None
        assert running.settings.authority == entra.url
        # A token the AKS job's identity gets (real azure-identity, through the AKS job's
        # settings and CA) is one the ACR stand-in's exchange takes for a refresh token.
        cluster = AzureAccess.of(aks_job, _open, aks)
        tokens = AcrTokens(
            acr.registry_url("contosoapps.azurecr.io"),
            tenant_id=TENANT,
            who="the AKS job's identity",
            entra_token=cluster.arm_token,
            http=Http(acr.ca_file),
        )
        assert tokens.refresh_token()
        registry = AzureAccess(identity=acr_job.registry, open_secret=_open, settings=acr)
        assert entra.token_valid(f"Bearer {registry.arm_token()}")
