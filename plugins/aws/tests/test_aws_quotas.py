"""Room for a new cluster, read from Service Quotas and counted in the region (moto)."""

from __future__ import annotations

import pytest
from aws_support import ACCOUNT, client
from qengine_aws.credentials import AwsAccess
from qengine_aws.quotas import EKS_CLUSTERS, VPCS, check_room_for_cluster, quota_value
from qengine_aws.settings import AwsSettings

from qengine.plugin import QuotaError


def test_an_applied_quota_is_read_and_a_missing_one_falls_back_to_aws_default(
    access: AwsAccess,
) -> None:
    # moto holds applied VPC quotas; it has none for EKS, as an account that never raised it.
    assert quota_value(access, VPCS).source == "applied"
    assert quota_value(access, VPCS).value == 5
    eks = quota_value(access, EKS_CLUSTERS)
    assert (eks.value, eks.source) == (100, "AWS default")


def test_a_new_cluster_fits_in_an_empty_region(access: AwsAccess) -> None:
    line = check_room_for_cluster(access, "prod", nat_gateway=True)
    # moto's region has its default VPC: one of five.
    assert line == "room for a new cluster: EKS clusters 0/100, VPCs 1/5, EC2-VPC Elastic IPs 0/5"


def test_a_region_without_room_for_another_vpc_is_refused(
    access: AwsAccess, settings: AwsSettings
) -> None:
    ec2 = client(settings, "ec2")
    for index in range(4):
        ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")
    with pytest.raises(QuotaError) as refused:
        check_room_for_cluster(access, "prod", nat_gateway=False)
    assert "VPCs quota" in str(refused.value)
    assert "uses 5 of 5 (applied)" in str(refused.value)
    assert "L-F678F1CE" in (refused.value.hint or "")


def test_elastic_ips_count_only_when_the_vpc_has_a_nat_gateway(
    access: AwsAccess, settings: AwsSettings
) -> None:
    ec2 = client(settings, "ec2")
    for _ in range(5):
        ec2.allocate_address(Domain="vpc")
    assert "Elastic IPs" not in check_room_for_cluster(access, "prod", nat_gateway=False)
    with pytest.raises(QuotaError, match="EC2-VPC Elastic IPs quota"):
        check_room_for_cluster(access, "prod", nat_gateway=True)


def test_an_existing_cluster_is_converged_without_counting(
    access: AwsAccess, settings: AwsSettings
) -> None:
    ec2 = client(settings, "ec2")
    for index in range(4):
        ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")
    client(settings, "eks").create_cluster(
        name="prod",
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": []},
    )
    assert "converging" in check_room_for_cluster(access, "prod", nat_gateway=True)


def test_preflight_refuses_a_cluster_the_region_has_no_room_for(
    access: AwsAccess, settings: AwsSettings
) -> None:
    from qengine_aws import preflight

    assert preflight.preflight(access, "prod", nat_gateway=False).account == ACCOUNT
    ec2 = client(settings, "ec2")
    for index in range(4):
        ec2.create_vpc(CidrBlock=f"10.{index}.0.0/16")
    with pytest.raises(QuotaError, match="VPCs quota"):
        preflight.preflight(access, "prod", nat_gateway=False)
