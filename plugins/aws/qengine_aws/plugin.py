"""Hook implementations of qengine-aws (registration and checks only; boto3 is not imported).

Each factory builds its implementation from a job's section and services, importing the
implementation's module only when called (planning an AWS job sends no request):

- ``aws`` cloud provider: ``AwsInfraEngine(section, services)``, the steps of each action;
- ``ecr`` registry: ``EcrContainerRegistry(section, services)``;
- ``route53`` DNS provider: ``Route53DnsProvider(section, services)``;
- ``aws-kms`` key provider: ``kms_key_provider(settings)``, from the engine's AWS settings.
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
    from qengine_aws.spec import AwsProvider, EcrRegistry, Route53Dns


def _infra_engine(section: AwsProvider, services: JobServices) -> InfraEngine:
    from qengine_aws.infra_engine import AwsInfraEngine

    return AwsInfraEngine(section, services)


def _ecr(section: EcrRegistry, services: JobServices) -> ContainerRegistry:
    from qengine_aws.ecr import EcrContainerRegistry

    return EcrContainerRegistry(section, services)


def _route53(section: Route53Dns, services: JobServices) -> DnsProvider:
    from qengine_aws.route53 import Route53DnsProvider

    return Route53DnsProvider(section, services)


def _kms(settings: Mapping[str, object]) -> KeyProvider:
    from qengine_aws.kms_keys import kms_key_provider

    return kms_key_provider(settings)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the AWS cloud provider, ECR, Route53 and the aws-kms key provider."""
    registry.add_cloud_provider(
        "aws",
        "qengine_aws.spec:AwsProvider",
        _infra_engine,
        "EKS clusters through Terraform, state in your S3 bucket",
    )
    registry.add_registry("ecr", "qengine_aws.spec:EcrRegistry", _ecr, "Amazon ECR repositories")
    registry.add_dns_provider(
        "route53", "qengine_aws.spec:Route53Dns", _route53, "Amazon Route53 hosted zones"
    )
    registry.add_key_provider(
        "aws-kms",
        _kms,
        "AWS KMS: data keys wrapped with the organization as encryption context",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse AWS jobs with an unknown region, an unoffered version or bad node groups."""
    if not {"aws", "ecr"} & _section_kinds(job):
        return []  # the checks and their catalogs are imported only for a job with AWS sections
    from qengine_aws.checks import check_job

    return check_job(job)


@hookimpl
def qengine_sandbox(job: Job, session: SandboxSession) -> dict[str, object] | None:
    """A sandbox run of an AWS job: every AWS call goes to a moto server on 127.0.0.1, and
    the stand-in cluster's API is the session's cluster (``session.cluster()``, started here
    unless an earlier job of the session started one); both are shared by the session's jobs
    and stop with the session."""
    if not isinstance(job, InfrastructureJob) or not _cluster_of_kind(job, "aws"):
        return None
    from qengine_aws.sandbox_session import session_settings

    return {"aws": session_settings(session)}


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """Write an AWS infrastructure job's Terraform root module, backend settings and README."""
    if not isinstance(job, InfrastructureJob) or not _cluster_of_kind(job, "aws"):
        return None
    from qengine_aws.export import export_job

    return export_job(job, directory)


def _section_kinds(job: Job) -> set[str]:
    """The kinds of the job's plugin sections, read without importing a section class."""
    provider = job.cluster.provider if isinstance(job, InfrastructureJob) else None
    return {s.kind for s in (provider, job.registry, job.dns) if s is not None}


def _cluster_of_kind(job: Job, kind: str) -> bool:
    """Whether ``job`` is an infrastructure job whose provider is this plugin's ``kind``."""
    if not isinstance(job, InfrastructureJob) or job.cluster.provider.kind != kind:
        return False
    from qengine_aws.spec import AwsProvider

    return isinstance(job.cluster.provider, AwsProvider)
