"""Before a cluster is destroyed: remove what its controllers made in the VPC.

Services of type LoadBalancer and Ingresses make load balancers (classic ELBs from the
in-tree controller, ALBs and NLBs from the AWS Load Balancer Controller) and security groups
that Terraform does not know of; left behind, they block the deletion of the VPC's subnets
and of the VPC. Every load balancer in the cluster's VPC is deleted (the VPC belongs to the
cluster), then the security groups the controllers tagged for this cluster, retried while
AWS still reports them in use.
"""

from __future__ import annotations

import functools
from typing import Any

from qengine.plugin import CancelToken, TransientError
from qengine_aws.credentials import AwsAccess
from qengine_aws.errors import error_code


class StillInUse(TransientError):
    """A security group is still attached to a load balancer being deleted."""


def cleanup_load_balancers(
    access: AwsAccess, *, vpc_id: str, cluster_name: str, cancel: CancelToken
) -> list[str]:
    """Delete the VPC's load balancers and the cluster's controller security groups.

    Returns what was deleted (``elbv2:<arn>``, ``elb:<name>``, ``sg:<id>``).
    """
    deleted = _delete_elbv2(access, vpc_id) + _delete_classic(access, vpc_id)
    for group in _controller_groups(access, vpc_id, cluster_name):
        access.settings.poll.call(functools.partial(_delete_group, access, group), cancel=cancel)
        deleted.append(f"sg:{group}")
    return deleted


def _delete_elbv2(access: AwsAccess, vpc_id: str) -> list[str]:
    elbv2 = access.client("elbv2")
    with access.call("listing load balancers (elbv2)"):
        pages = elbv2.get_paginator("describe_load_balancers").paginate()
        arns = [
            lb["LoadBalancerArn"]
            for p in pages
            for lb in p["LoadBalancers"]
            if lb.get("VpcId") == vpc_id
        ]
    for arn in arns:
        with access.call(f"deleting the load balancer {arn}"):
            elbv2.delete_load_balancer(LoadBalancerArn=arn)
    return [f"elbv2:{arn}" for arn in arns]


def _delete_classic(access: AwsAccess, vpc_id: str) -> list[str]:
    elb = access.client("elb")
    with access.call("listing classic load balancers"):
        pages = elb.get_paginator("describe_load_balancers").paginate()
        names = [
            lb["LoadBalancerName"]
            for p in pages
            for lb in p["LoadBalancerDescriptions"]
            if lb.get("VPCId") == vpc_id
        ]
    for name in names:
        with access.call(f"deleting the classic load balancer {name}"):
            elb.delete_load_balancer(LoadBalancerName=name)
    return [f"elb:{name}" for name in names]


def _controller_groups(access: AwsAccess, vpc_id: str, cluster_name: str) -> list[str]:
    ec2 = access.client("ec2")
    filters: list[dict[str, Any]] = [{"Name": "vpc-id", "Values": [vpc_id]}]
    with access.call("listing the VPC's security groups"):
        groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    return [g["GroupId"] for g in groups if _made_by_controllers(g, cluster_name)]


def _made_by_controllers(group: dict[str, Any], cluster_name: str) -> bool:
    tags = {t["Key"]: t["Value"] for t in group.get("Tags", [])}
    owned = tags.get(f"kubernetes.io/cluster/{cluster_name}") == "owned"
    return owned or tags.get("elbv2.k8s.aws/cluster") == cluster_name


def _delete_group(access: AwsAccess, group_id: str) -> None:
    ec2 = access.client("ec2")
    try:
        ec2.delete_security_group(GroupId=group_id)
    except Exception as exc:
        code = error_code(exc)
        if code == "InvalidGroup.NotFound":
            return
        if code == "DependencyViolation":
            raise StillInUse(
                f"the security group {group_id} is still in use",
                hint="A load balancer is still being deleted; it is retried.",
                retry_after=access.settings.poll_interval,
            ) from exc
        with access.call(f"deleting the security group {group_id}"):
            raise
