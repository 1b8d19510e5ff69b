"""Hook implementations of qengine-azure (registration and checks only; no Azure SDK is
imported here).

The ``azure`` cloud provider's factory builds ``AksInfraEngine(section, services)``, importing
its module only when called (validating or planning an Azure job sends no request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qengine.plugin import Registry, SpecIssue, hookimpl
from qengine.spec import Job
from qengine_azure import checks
from qengine_azure.spec import AzureProvider

if TYPE_CHECKING:
    from qengine.plugin import InfraEngine, JobServices


def _infra_engine(section: AzureProvider, services: JobServices) -> InfraEngine:
    from qengine_azure.infra_engine import AksInfraEngine

    return AksInfraEngine(section, services)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the Azure cloud provider."""
    registry.add_cloud_provider(
        "azure",
        AzureProvider,
        _infra_engine,
        "AKS clusters through Terraform, state in your storage account",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse Azure jobs whose identity, ranges, node pools, version, API server access, state
    storage or tags AKS or Azure would refuse (offline)."""
    return checks.check_job(job)
