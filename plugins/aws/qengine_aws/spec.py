"""The spec sections of AWS: the EKS cluster settings, ECR and Route53."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs

from qengine.spec import Cidr, DnsLabel, DnsSpec, DomainName, ProviderSpec, RegistrySpec, SecretRef


@attrs.frozen(kw_only=True)
class NodeGroup:
    """A managed node group: instance types and its size range."""

    name: DnsLabel
    instance_types: tuple[str, ...]
    min_size: int = 1
    max_size: int = 3
    desired_size: int | None = None
    spot: bool = False
    disk_size_gib: int = 50


@attrs.frozen(kw_only=True)
class StateBackend:
    """Where Terraform state lives, in the user's own account (created if missing)."""

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
    """Amazon ECR in ``region``; repositories are created on demand under ``prefix``."""

    kind: Literal["ecr"]
    region: str
    prefix: str = "qengine"
    immutable_tags: bool = True
    scan_on_push: bool = True
    keep_last: int = 50


@attrs.frozen(kw_only=True)
class Route53Dns(DnsSpec):
    """A Route53 hosted zone for ``zone`` (looked up by name unless ``zone_id`` is given)."""

    kind: Literal["route53"]
    zone: DomainName
    zone_id: str | None = None
