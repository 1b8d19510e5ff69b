"""Room for a new cluster: the account's quotas against what the region already holds.

A new EKS cluster takes one EKS cluster, one VPC and, with a NAT gateway, one Elastic IP of the
region's quotas. For each, the quota in force is read from Service Quotas (``GetServiceQuota``,
which answers a quota that was raised or otherwise applied to the account) and, when Service
Quotas has no applied value or may not be asked (``NoSuchResourceException``,
``AccessDeniedException``), AWS's documented default is used. The count is the region's
clusters (``ListClusters``), VPCs (``DescribeVpcs``) or VPC Elastic IPs (``DescribeAddresses``).
A cluster that already exists is being converged: it takes nothing new, so only the cluster
list is read. Every call is read-only; a refusal is a :class:`QuotaError` raised before
anything is created.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from qengine.plugin import QuotaError
from qengine_aws.credentials import AwsAccess

#: Service Quotas answers these when it holds no applied value, or may not be asked.
_NO_ANSWER = ("NoSuchResourceException", "AccessDeniedException")


@attrs.frozen(kw_only=True)
class Quota:
    """One quota a new cluster uses: where Service Quotas keeps it and AWS's default."""

    service_code: str
    quota_code: str
    name: str
    default: int


EKS_CLUSTERS = Quota(service_code="eks", quota_code="L-1194D53C", name="EKS clusters", default=100)
VPCS = Quota(service_code="vpc", quota_code="L-F678F1CE", name="VPCs", default=5)
ELASTIC_IPS = Quota(
    service_code="ec2", quota_code="L-0263D0A3", name="EC2-VPC Elastic IPs", default=5
)


@attrs.frozen(kw_only=True)
class QuotaValue:
    """A quota's value and where it came from (``applied`` or ``AWS default``)."""

    value: int
    source: str


def quota_value(access: AwsAccess, quota: Quota) -> QuotaValue:
    """The quota in force in the job's region."""
    answer = access.unless_absent(
        f"reading the {quota.name} quota (servicequotas:GetServiceQuota)",
        lambda: access.client("service-quotas").get_service_quota(
            ServiceCode=quota.service_code, QuotaCode=quota.quota_code
        ),
        *_NO_ANSWER,
    )
    if answer is None:
        return QuotaValue(value=quota.default, source="AWS default")
    return QuotaValue(value=int(answer["Quota"]["Value"]), source="applied")


def cluster_names(access: AwsAccess) -> list[str]:
    """The EKS clusters of the job's region."""
    with access.call("listing EKS clusters (eks:ListClusters)"):
        pages = access.client("eks").get_paginator("list_clusters").paginate()
        return [name for page in pages for name in page.get("clusters", [])]


def _vpc_count(access: AwsAccess) -> int:
    with access.call("counting the region's VPCs (ec2:DescribeVpcs)"):
        pages = access.client("ec2").get_paginator("describe_vpcs").paginate()
        return sum(len(page.get("Vpcs", [])) for page in pages)


def _elastic_ip_count(access: AwsAccess) -> int:
    with access.call("counting the region's Elastic IPs (ec2:DescribeAddresses)"):
        answer = access.client("ec2").describe_addresses(
            Filters=[{"Name": "domain", "Values": ["vpc"]}]
        )
    return len(answer.get("Addresses", []))


def check_room_for_cluster(access: AwsAccess, cluster_name: str, *, nat_gateway: bool) -> str:
    """Refuse a new cluster the region's quotas have no room for; a line on what was checked.

    ``nat_gateway``: the cluster's VPC has a NAT gateway, which takes an Elastic IP.
    """
    names = cluster_names(access)
    if cluster_name in names:
        return f"cluster {cluster_name} exists: converging it takes no new quota"
    needs: list[tuple[Quota, Callable[[], int]]] = [
        (EKS_CLUSTERS, lambda: len(names)),
        (VPCS, lambda: _vpc_count(access)),
    ]
    if nat_gateway:
        needs.append((ELASTIC_IPS, lambda: _elastic_ip_count(access)))
    checked = []
    for quota, count in needs:
        limit = quota_value(access, quota)
        used = count()
        if used + 1 > limit.value:
            raise QuotaError(
                f"a new cluster needs one more of the {quota.name} quota, and the region "
                f"{access.region} uses {used} of {limit.value} ({limit.source})",
                hint=f"Free one, or ask AWS for more in Service Quotas ({quota.service_code} "
                f"quota {quota.quota_code}), then run the job again.",
            )
        checked.append(f"{quota.name} {used}/{limit.value}")
    return "room for a new cluster: " + ", ".join(checked)
