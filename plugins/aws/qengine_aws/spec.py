"""The spec sections of AWS: the EKS cluster settings, ECR and Route53."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import ClassVar, Literal

import attrs

from qengine.spec import Cidr, DnsLabel, DnsSpec, DomainName, ProviderSpec, RegistrySpec, SecretRef


@attrs.frozen(kw_only=True)
class NodeGroup:
    """A managed node group: instance types and its size range.

    :ivar name: The node group's name, a DNS label unique in the cluster.
    :ivar instance_types: The EC2 instance types of its nodes, at least one.
    :ivar min_size: The fewest nodes.
    :ivar max_size: The most nodes.
    :ivar desired_size: The nodes when it is created; unset, ``min_size``.
    :ivar spot: Whether the nodes are Spot instances (else On-Demand).
    :ivar disk_size_gib: Each node's root volume, in GiB.
    """

    name: DnsLabel
    instance_types: tuple[str, ...]
    min_size: int = 1
    max_size: int = 3
    desired_size: int | None = None
    spot: bool = False
    disk_size_gib: int = 50


@attrs.frozen(kw_only=True)
class StateBackend:
    """Where Terraform state lives, in the user's own account (created if missing).

    :ivar bucket: The S3 bucket of the Terraform state; unset,
        ``qengine-state-<account>-<region>``.
    :ivar lock_table: The DynamoDB table of Terraform's state locks.
    :ivar kms_key_arn: The KMS key that encrypts the state; unset, a key of the engine's behind
        ``alias/qengine-terraform-state``.
    """

    bucket: str | None = None
    lock_table: str = "qengine-terraform-locks"
    kms_key_arn: str | None = None


@attrs.frozen(kw_only=True)
class AwsProvider(ProviderSpec):
    """An EKS cluster's AWS settings.

    Credentials: the host's default chain, or a base credential sealed in the job
    (``access_key_id`` and ``secret_access_key`` as secret references); with ``role_arn`` the
    engine assumes that role (with ``external_id``) for at most an hour.

    ``service_cidr`` is the range of Kubernetes Service addresses; EKS picks 10.100.0.0/16 or
    172.20.0.0/16 when it is not given (whichever does not overlap the VPC).

    :ivar region: The AWS region of the cluster, e.g. ``eu-west-1``.
    :ivar role_arn: An IAM role the engine assumes for the job, for at most an hour.
    :ivar external_id: A secret reference to the external id the role's trust policy requires.
    :ivar access_key_id: A secret reference to a base credential's access key id (with
        ``secret_access_key``); unset, the host's default chain.
    :ivar secret_access_key: A secret reference to the base credential's secret access key.
    :ivar vpc_cidr: The VPC's address range, from /16 to /24: a private and a public subnet per
        zone are cut from it.
    :ivar service_cidr: The range of Kubernetes Service addresses; unset, EKS picks
        10.100.0.0/16 or 172.20.0.0/16 (whichever does not overlap the VPC).
    :ivar availability_zones: How many availability zones the VPC and nodes span.
    :ivar nat_gateway: Whether the private subnets reach the internet through a NAT gateway (one
        for the VPC).
    :ivar node_groups: The managed node groups, at least one.
    :ivar endpoint_public_access: Whether the API server has a public endpoint.
    :ivar endpoint_public_cidrs: The networks allowed to reach the public endpoint.
    :ivar endpoint_private_access: Whether the API server has an endpoint inside the VPC.
    :ivar secrets_encryption: Whether Kubernetes Secrets are encrypted with a KMS key of the
        cluster's.
    :ivar state: Where the cluster's Terraform state lives.
    :ivar tags: Tags put on every AWS resource of the cluster (besides the engine's own).
    """

    kind: Literal["aws"]
    region: str
    role_arn: str | None = None
    external_id: SecretRef | None = None
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None
    vpc_cidr: Cidr = Cidr("10.0.0.0/16")
    service_cidr: Cidr | None = None
    availability_zones: int = 3
    nat_gateway: bool = True
    node_groups: tuple[NodeGroup, ...]
    endpoint_public_access: bool = True
    endpoint_public_cidrs: tuple[Cidr, ...] = (Cidr("0.0.0.0/0"),)
    endpoint_private_access: bool = True
    secrets_encryption: bool = True
    state: StateBackend = attrs.field(factory=StateBackend)
    tags: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class EcrRegistry(RegistrySpec):
    """Amazon ECR in ``region``; repositories are created on demand under ``prefix``.

    :ivar region: The AWS region of the repositories.
    :ivar prefix: The namespace the repositories are created under (``<prefix>/<service>``).
    :ivar immutable_tags: Whether a pushed tag cannot be moved.
    :ivar scan_on_push: Whether each pushed image is scanned for vulnerabilities.
    :ivar keep_last: How many images each repository keeps (a lifecycle policy expires the
        rest), 1 to 10000.
    """

    # An ECR authorization token lasts 12 hours: the cluster's pull Secret is written again
    # before it lapses (see docs/aws.md).
    pull_secret_lifetime: ClassVar[datetime.timedelta | None] = datetime.timedelta(hours=12)
    kind: Literal["ecr"]
    region: str
    prefix: str = "qengine"
    immutable_tags: bool = True
    scan_on_push: bool = True
    keep_last: int = 50


@attrs.frozen(kw_only=True)
class Route53Dns(DnsSpec):
    """A Route53 hosted zone for ``zone`` (looked up by name unless ``zone_id`` is given).

    :ivar zone: The hosted zone's domain name.
    :ivar zone_id: The hosted zone's id; unset, the zone is looked up by name.
    """

    kind: Literal["route53"]
    zone: DomainName
    zone_id: str | None = None
