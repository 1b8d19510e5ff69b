"""Preflight: before anything is created, check who we are, where, and that there is room.

Cheap read-only calls: STS GetCallerIdentity (the credentials work, and whose they are),
EC2 DescribeRegions (the region is enabled for the account) and, for a new cluster, the
region's room for one more EKS cluster, VPC and Elastic IP (:mod:`qengine_aws.quotas`). Each
failure is a typed error with a hint; nothing has been created when one is raised.
"""

from __future__ import annotations

import attrs

from qengine.plugin import InvalidInputError
from qengine_aws.credentials import AwsAccess
from qengine_aws.quotas import check_room_for_cluster


@attrs.frozen(kw_only=True)
class Identity:
    """Who the job's credentials are: account id and caller ARN."""

    account: str
    arn: str


def caller_identity(access: AwsAccess) -> Identity:
    """The account and ARN the job's credentials act as (AuthError when refused)."""
    with access.call("checking the AWS credentials (sts:GetCallerIdentity)"):
        answer = access.client("sts").get_caller_identity()
    return Identity(account=str(answer["Account"]), arn=str(answer["Arn"]))


def check_region(access: AwsAccess) -> None:
    """Refuse a region the account cannot use (not offered, or not opted in).

    botocore's endpoint data answers "does EKS exist there" without a request; EC2
    DescribeRegions then answers "is it enabled for this account".
    """
    partition = "aws-cn" if access.region.startswith("cn-") else "aws"
    known = access.session().get_available_regions("eks", partition_name=partition)
    if access.region not in known:
        raise InvalidInputError(
            f"$.cluster.provider.region: EKS is not offered in {access.region!r}",
            hint="Choose one of: " + ", ".join(sorted(known)),
        )
    with access.call("listing the account's regions (ec2:DescribeRegions)"):
        answer = access.client("ec2").describe_regions()
    names = {region["RegionName"] for region in answer.get("Regions", [])}
    if access.region not in names:
        raise InvalidInputError(
            f"$.cluster.provider.region: {access.region!r} is not enabled for this account",
            hint="Choose one of: " + ", ".join(sorted(names)),
        )


def preflight(access: AwsAccess, cluster_name: str, *, nat_gateway: bool = True) -> Identity:
    """All three checks, for a cluster to create; returns the caller's identity."""
    identity = caller_identity(access)
    check_region(access)
    check_room_for_cluster(access, cluster_name, nat_gateway=nat_gateway)
    return identity
