"""Hook implementations of qengine-gcp (registration and checks only; no Google SDK is
imported here).

The ``gcp`` cloud provider's factory builds ``GkeInfraEngine(section, services)``, and the
``artifact-registry`` registry's ``ArtifactRegistryContainerRegistry(section, services)``,
the ``cloud-dns`` DNS provider's ``CloudDnsProvider(section, services)``, the ``gcp-kms`` key
provider's ``CloudKmsKeyProvider(settings)``, each importing its module only
when called (planning a GCP job sends no request).
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
    from qengine_gcp.spec import ArtifactRegistry, CloudDns, GcpProvider


def _infra_engine(section: GcpProvider, services: JobServices) -> InfraEngine:
    from qengine_gcp.infra_engine import GkeInfraEngine

    return GkeInfraEngine(section, services)


def _artifact_registry(section: ArtifactRegistry, services: JobServices) -> ContainerRegistry:
    from qengine_gcp.artifact_registry import ArtifactRegistryContainerRegistry

    return ArtifactRegistryContainerRegistry(section, services)


def _cloud_dns(section: CloudDns, services: JobServices) -> DnsProvider:
    from qengine_gcp.cloud_dns import CloudDnsProvider

    return CloudDnsProvider(section, services)


def _kms(settings: Mapping[str, object]) -> KeyProvider:
    from qengine_gcp.kms_keys import kms_key_provider

    return kms_key_provider(settings)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the GCP cloud provider, Artifact Registry, Cloud DNS and the gcp-kms key
    provider."""
    registry.add_cloud_provider(
        "gcp",
        "qengine_gcp.spec:GcpProvider",
        _infra_engine,
        "GKE Standard clusters through Terraform, state in your GCS bucket",
    )
    registry.add_registry(
        "artifact-registry",
        "qengine_gcp.spec:ArtifactRegistry",
        _artifact_registry,
        "Google Artifact Registry Docker repositories",
    )
    registry.add_dns_provider(
        "cloud-dns", "qengine_gcp.spec:CloudDns", _cloud_dns, "Google Cloud DNS managed zones"
    )
    registry.add_key_provider(
        "gcp-kms",
        _kms,
        "Cloud KMS: data keys wrapped with the organization as authenticated data",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse GCP jobs whose ranges, node pools, version, endpoint, state bucket, labels or
    credentials GKE would refuse, and Cloud DNS sections with bad identities (offline)."""
    if not {"gcp", "artifact-registry", "cloud-dns"} & _section_kinds(job):
        return []  # the checks and their catalogs are imported only for a job with GCP sections
    from qengine_gcp.checks import check_job

    return check_job(job)


@hookimpl
def qengine_sandbox(job: Job, session: SandboxSession) -> dict[str, object] | None:
    """A sandbox run of a GCP job: the state goes to a local fake-gcs-server, the cluster is
    terraform_data stand-ins whose API is the session's cluster (``session.cluster()``,
    started here unless an earlier job of the session started one); a job with an
    ``artifact-registry`` registry or a ``cloud-dns`` section (an environment job too) gets the
    stand-ins of IAM Credentials, Artifact Registry and Cloud DNS. All are shared by the
    session's jobs and stop with the session."""
    uses_apis = bool(_section_kinds(job) & {"artifact-registry", "cloud-dns"})
    if not _cluster_of_kind(job, "gcp") and not uses_apis:
        return None
    from qengine_gcp.sandbox_session import session_settings

    return {"gcp": session_settings(session, job)}


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """Write a GCP infrastructure job's Terraform root module, backend settings and README."""
    if not isinstance(job, InfrastructureJob) or not _cluster_of_kind(job, "gcp"):
        return None
    from qengine_gcp.export import export_job

    return export_job(job, directory)


def _section_kinds(job: Job) -> set[str]:
    """The kinds of the job's plugin sections, read without importing a section class."""
    provider = job.cluster.provider if isinstance(job, InfrastructureJob) else None
    return {s.kind for s in (provider, job.registry, job.dns) if s is not None}


def _cluster_of_kind(job: Job, kind: str) -> bool:
    """Whether ``job`` is an infrastructure job whose provider is this plugin's ``kind``."""
    if not isinstance(job, InfrastructureJob) or job.cluster.provider.kind != kind:
        return False
    from qengine_gcp.spec import GcpProvider

    return isinstance(job.cluster.provider, GcpProvider)
