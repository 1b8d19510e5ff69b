"""Hook implementations of qengine-azure (registration and checks only; no Azure SDK is
imported here).

The ``azure`` cloud provider's factory builds ``AksInfraEngine(section, services)``, the
``acr`` registry's ``AcrContainerRegistry(section, services)``, the
``azure-dns`` DNS provider's ``AzureDnsProvider(section, services)``, the
``azure-key-vault`` key provider's ``KeyVaultKeyProvider(settings)``, each importing its
module only when called (validating or planning an Azure job sends no request).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from qengine.plugin import Registry, SpecIssue, hookimpl
from qengine.spec import InfrastructureJob, Job

if TYPE_CHECKING:
    from qengine.plugin import (
        ContainerRegistry,
        DnsProvider,
        InfraEngine,
        JobServices,
        KeyProvider,
        SandboxSession,
    )
    from qengine_azure.spec import AcrRegistry, AzureDns, AzureProvider


def _infra_engine(section: AzureProvider, services: JobServices) -> InfraEngine:
    from qengine_azure.infra_engine import AksInfraEngine

    return AksInfraEngine(section, services)


def _acr(section: AcrRegistry, services: JobServices) -> ContainerRegistry:
    from qengine_azure.acr import AcrContainerRegistry

    return AcrContainerRegistry(section, services)


def _azure_dns(section: AzureDns, services: JobServices) -> DnsProvider:
    from qengine_azure.azure_dns import AzureDnsProvider

    return AzureDnsProvider(section, services)


def _key_vault(settings: Mapping[str, object]) -> KeyProvider:
    from qengine_azure.key_vault import key_vault_provider

    return key_vault_provider(settings)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the Azure cloud provider, the ACR registry, the Azure DNS provider and the Key
    Vault key provider."""
    registry.add_cloud_provider(
        "azure",
        "qengine_azure.spec:AzureProvider",
        _infra_engine,
        "AKS clusters through Terraform, state in your storage account",
    )
    registry.add_registry(
        "acr", "qengine_azure.spec:AcrRegistry", _acr, "Azure Container Registry repositories"
    )
    registry.add_dns_provider(
        "azure-dns", "qengine_azure.spec:AzureDns", _azure_dns, "Azure DNS public zones"
    )
    registry.add_key_provider(
        "azure-key-vault",
        _key_vault,
        "Azure Key Vault: data keys wrapped (RSA-OAEP-256) bound to the organization",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse Azure jobs whose identity, ranges, node pools, version, API server access, state
    storage or tags AKS or Azure would refuse, Azure DNS sections with a bad identity and ACR
    sections with a bad identity, name or login server (offline)."""
    provider = job.cluster.provider.kind if isinstance(job, InfrastructureJob) else None
    kinds = {provider} | {s.kind for s in (job.dns, job.registry) if s is not None}
    if not {"azure", "azure-dns", "acr"} & kinds:
        return []  # the checks and their catalogs are imported only for a job with Azure sections
    from qengine_azure.checks import check_job

    return check_job(job)


@hookimpl
def qengine_sandbox(job: Job, session: SandboxSession) -> dict[str, object] | None:
    """A sandbox run of an Azure job: the state goes to a local Azurite, Resource Manager and
    Entra ID are local stand-ins, the cluster is terraform_data stand-ins whose API is the
    session's cluster (started here unless an earlier job of the session started one); a job
    with an ``acr`` registry (an environment job too) gets the ACR stand-in in front of a
    local Distribution registry; all are shared by the session's jobs and stop with the
    session."""
    provider = _azure_provider(job)
    uses_acr = job.registry is not None and job.registry.kind == "acr"
    if provider is None and not uses_acr:
        return None
    from qengine_azure import sandbox_session

    settings = None
    if isinstance(job, InfrastructureJob) and provider is not None:
        from qengine_azure.state_backend import state_location

        account = state_location(provider, job.cluster.id).storage_account
        settings = sandbox_session.session_settings(session, account)
    if uses_acr:
        from qengine_azure.spec import AcrRegistry

        assert isinstance(job.registry, AcrRegistry)
        settings = sandbox_session.acr_settings(session, job.registry, settings)
    return {"azure": settings}


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """Write an Azure infrastructure job's Terraform root module, backend settings and
    README."""
    if not isinstance(job, InfrastructureJob) or _azure_provider(job) is None:
        return None
    from qengine_azure.export import export_job

    return export_job(job, directory)


def _azure_provider(job: Job) -> AzureProvider | None:
    """The job's Azure provider section, if it is an infrastructure job of an AKS cluster (the
    section classes are imported only then)."""
    if not isinstance(job, InfrastructureJob) or job.cluster.provider.kind != "azure":
        return None
    from qengine_azure.spec import AzureProvider

    provider = job.cluster.provider
    return provider if isinstance(provider, AzureProvider) else None
