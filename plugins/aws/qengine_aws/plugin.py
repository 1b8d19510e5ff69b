"""Hook implementations of qengine-aws (registration and checks only; boto3 is not imported)."""

from __future__ import annotations

from qengine import SpecIssue, hookimpl
from qengine._plugins import Registry
from qengine.spec import Job
from qengine_aws import checks
from qengine_aws.spec import AwsProvider, EcrRegistry, Route53Dns


def _not_yet(what: str) -> object:
    from qengine import PluginError

    raise PluginError(
        f"the AWS {what} is not available in this version of qengine-aws",
        hint="`qengine validate` and `qengine plan` work for AWS jobs.",
    )


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the AWS cloud provider, the ECR registry and the Route53 DNS provider."""
    registry.add_cloud_provider(
        "aws",
        AwsProvider,
        lambda: _not_yet("cloud provider"),
        "EKS clusters through Terraform, state in your S3 bucket",
    )
    registry.add_registry(
        "ecr", EcrRegistry, lambda: _not_yet("ECR registry"), "Amazon ECR repositories"
    )
    registry.add_dns_provider(
        "route53", Route53Dns, lambda: _not_yet("Route53 provider"), "Amazon Route53 hosted zones"
    )


@hookimpl
def qengine_check_job(job: Job) -> list[SpecIssue]:
    """Refuse AWS jobs with an unknown region, an unoffered version or bad node groups."""
    return checks.check_job(job)
