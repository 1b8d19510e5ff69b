"""Load balancer clean-up before a delete, against moto's ELB, ELBv2 and EC2."""

from __future__ import annotations

from typing import Any

from qengine_aws.credentials import AwsAccess
from qengine_aws.load_balancers import cleanup_load_balancers

from qengine.interfaces import CancelToken

CLUSTER = "prod-eu"


def _vpc(access: AwsAccess, cidr: str) -> tuple[str, list[str]]:
    ec2 = access.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.split(".")
    subnets = [
        ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24",
            AvailabilityZone=f"{access.region}{zone}",
        )["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    return vpc, subnets


def _group(access: AwsAccess, vpc: str, name: str, tags: dict[str, str]) -> str:
    ec2 = access.client("ec2")
    group: str = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    if tags:
        ec2.create_tags(Resources=[group], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return group


def _load_balancers(access: AwsAccess) -> tuple[list[Any], list[Any]]:
    v2 = access.client("elbv2").describe_load_balancers()["LoadBalancers"]
    classic = access.client("elb").describe_load_balancers()["LoadBalancerDescriptions"]
    return v2, classic


def test_cluster_load_balancers_and_controller_groups_are_removed(access: AwsAccess) -> None:
    vpc, subnets = _vpc(access, "10.40.0.0/16")
    other_vpc, other_subnets = _vpc(access, "10.50.0.0/16")
    owned = _group(access, vpc, "k8s-elb", {f"kubernetes.io/cluster/{CLUSTER}": "owned"})
    alb_group = _group(access, vpc, "k8s-alb", {"elbv2.k8s.aws/cluster": CLUSTER})
    kept = _group(access, vpc, "ours", {})
    access.client("elbv2").create_load_balancer(Name="k8s-ingress", Subnets=subnets)
    access.client("elbv2").create_load_balancer(Name="elsewhere", Subnets=other_subnets)
    access.client("elb").create_load_balancer(
        LoadBalancerName="a1b2c3",
        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}],
        Subnets=subnets,
        SecurityGroups=[owned],
    )

    deleted = cleanup_load_balancers(access, vpc_id=vpc, cluster_name=CLUSTER, cancel=CancelToken())

    assert sorted(d.split(":")[0] for d in deleted) == ["elb", "elbv2", "sg", "sg"]
    v2, classic = _load_balancers(access)
    assert [lb["LoadBalancerName"] for lb in v2] == ["elsewhere"]
    assert classic == []
    remaining = {
        g["GroupId"]
        for g in access.client("ec2").describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}]
        )["SecurityGroups"]
    }
    assert kept in remaining
    assert owned not in remaining
    assert alb_group not in remaining
    assert other_vpc


def test_nothing_to_clean_is_a_no_op(access: AwsAccess) -> None:
    vpc, _ = _vpc(access, "10.60.0.0/16")
    assert (
        cleanup_load_balancers(access, vpc_id=vpc, cluster_name=CLUSTER, cancel=CancelToken()) == []
    )
