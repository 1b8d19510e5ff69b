"""Hook implementations of qengine-aws (registration and checks only; boto3 is not imported).

Factories take no arguments (the registry's contract). The ``aws`` cloud provider's builds
``AwsCloudProvider()`` (AWS itself, the host's default credentials; a host with sealed secrets
or another endpoint builds ``AwsCloudProvider(settings=..., open_secret=...)``). The others
return the implementation class, imported only when called; a host builds it with the job's
spec section and an :class:`~qengine_aws.credentials.AwsAccess`:

- ``ecr``: ``EcrContainerRegistry(spec, access)``
- ``route53``: ``Route53DnsProvider(spec, access, cancel=token)``
- ``aws-kms``: ``KmsKeyProvider(key_id, access)``
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from qengine import SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.spec import InfrastructureJob, Job
from qengine_aws import checks
from qengine_aws.spec import AwsProvider, EcrRegistry, Route53Dns

if TYPE_CHECKING:
    from qengine._engine import JobServices
    from qengine._sandbox import SandboxSession
    from qengine.runner import Step


def _cloud_provider() -> object:
    from qengine_aws.infra_engine import AwsCloudProvider

    return AwsCloudProvider()


def _implementation(module: str, name: str) -> object:
    return getattr(importlib.import_module(f"qengine_aws.{module}"), name)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the AWS cloud provider, ECR, Route53 and the aws-kms key provider."""
    registry.add_cloud_provider(
        "aws",
        AwsProvider,
        _cloud_provider,
        "EKS clusters through Terraform, state in your S3 bucket",
    )
    registry.add_registry(
        "ecr",
        EcrRegistry,
        lambda: _implementation("ecr", "EcrContainerRegistry"),
        "Amazon ECR repositories",
    )
    registry.add_dns_provider(
        "route53",
        Route53Dns,
        lambda: _implementation("route53", "Route53DnsProvider"),
        "Amazon Route53 hosted zones",
    )
    registry.add_key_provider(
        "aws-kms",
        lambda: _implementation("kms_keys", "KmsKeyProvider"),
        "AWS KMS: data keys wrapped with the organization as encryption context",
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse AWS jobs with an unknown region, an unoffered version or bad node groups."""
    return checks.check_job(job)


@hookimpl
def qengine_sandbox(job: Job, session: SandboxSession) -> dict[str, object] | None:
    """A sandbox run of an AWS job: every AWS call goes to a moto server on 127.0.0.1, and
    the stand-in cluster's API is the session's Kubernetes cluster (the simulator); both are
    shared by the session's jobs and stop with the session."""
    if not isinstance(job, InfrastructureJob) or not isinstance(job.cluster.provider, AwsProvider):
        return None
    from qengine_aws.sandbox_session import session_settings

    return {"aws": session_settings(session)}


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """The steps of an AWS infrastructure job (preflight, state backend, Terraform)."""
    if not isinstance(job, InfrastructureJob) or not isinstance(job.cluster.provider, AwsProvider):
        return None
    from qengine.terraform import terraform_settings_of
    from qengine_aws.actions import AwsJob, steps_for
    from qengine_aws.settings import settings_of

    terraform = terraform_settings_of(services)
    return steps_for(AwsJob.of(job, services.secrets.open, settings_of(services), terraform))


@hookimpl
def qengine_export(job: Job, directory: Path) -> list[str] | None:
    """Write an AWS infrastructure job's Terraform root module, backend settings and README."""
    if not isinstance(job, InfrastructureJob) or not isinstance(job.cluster.provider, AwsProvider):
        return None
    from qengine_aws.export import export_job

    return export_job(job, directory)
