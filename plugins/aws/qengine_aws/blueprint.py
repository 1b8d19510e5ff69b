"""The EKS blueprint: a Terraform root module in JSON form, built as Python data.

Two pinned community modules do the heavy lifting (see ``modules.json`` for their versions
and documented interfaces): ``terraform-aws-modules/vpc/aws`` (a VPC across the job's zones,
a private and a public subnet in each, a NAT gateway) and ``terraform-aws-modules/eks/aws``
(the control plane, IRSA's OIDC provider, managed node groups, EKS add-ons). Next to them the
blueprint declares a KMS key for envelope encryption of Kubernetes secrets, the IAM role
the EBS CSI driver assumes through IRSA and, when the job runs external-dns on a Route53 zone,
the role external-dns assumes (see :mod:`qengine_aws.dns_identity`) and, when it runs
cluster-autoscaler, the node groups' auto-discovery tags and the role the autoscaler assumes
(see :mod:`qengine_aws.autoscaler_identity`) and, when its issuers solve ACME DNS-01 in the
Route53 zone, the role cert-manager assumes (see :mod:`qengine_aws.cert_manager_identity`).

The backend block is ``s3`` with no settings: they are given at ``terraform init`` (see
:meth:`qengine_aws.state_backend.StateLocation.backend_config`), so the same module runs
against any bucket. Values come from the job, never from string templates: the only strings
with ``${...}`` are Terraform references built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from qengine.spec import InfrastructureJob
from qengine.terraform.settings import local_module_path
from qengine_aws import autoscaler_identity, cert_manager_identity, dns_identity, irsa
from qengine_aws.modules import EKS, VPC, pinned
from qengine_aws.network import plan_subnets
from qengine_aws.spec import AwsProvider, NodeGroup

#: The AWS provider version the pinned modules need.
AWS_PROVIDER = ">= 6.28"
REQUIRED_TERRAFORM = ">= 1.5.7"
EBS_CSI_POLICY = (
    "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/"
    "AmazonEBSCSIDriverPolicy"
)
EBS_CSI_SERVICE_ACCOUNT = "system:serviceaccount:kube-system:ebs-csi-controller-sa"
OUTPUTS = (
    "cluster_name",
    "endpoint",
    "certificate_authority",
    "oidc_issuer_url",
    "cluster_version",
)


@attrs.frozen(kw_only=True)
class BlueprintOptions:
    """How one apply differs from the job's steady state.

    ``paused``: node groups scaled to zero (min and desired), their maximum kept.
    ``node_version``: the Kubernetes version of the node groups when it lags the control
    plane during an upgrade (None: the control plane's).
    """

    paused: bool = False
    node_version: str | None = None


def provider_of(job: InfrastructureJob) -> AwsProvider:
    """The job's AWS section (TypeError for another cloud)."""
    provider = job.cluster.provider
    if not isinstance(provider, AwsProvider):
        raise TypeError("not an AWS infrastructure job")
    return provider


def tags_of(job: InfrastructureJob) -> dict[str, str]:
    """Tags on every resource: the user's, then organization, cluster and managed-by."""
    return {
        **provider_of(job).tags,
        "qengine:organization": job.organization.id,
        "qengine:cluster": job.cluster.id,
        "managed-by": "qengine",
    }


def eks_root_module(
    job: InfrastructureJob,
    options: BlueprintOptions | None = None,
    *,
    module_dir: Path | None = None,
) -> dict[str, Any]:
    """The whole root module of the job's cluster.

    Modules come from the registry at their pinned versions, or, with ``module_dir``, from
    ``<module_dir>/<namespace>/<name>/<provider>/<version>/`` (see
    :class:`qengine.terraform.TerraformSettings`).
    """
    options = options or BlueprintOptions()
    dns = dns_identity.blueprint_parts(job)
    autoscaler = autoscaler_identity.blueprint_parts(job, paused=options.paused)
    acme = cert_manager_identity.blueprint_parts(job)
    data, resource = _data(), _resources(job)
    for part in (dns, autoscaler, acme):
        data, resource = _merged(data, part["data"]), _merged(resource, part["resource"])
    return {
        "terraform": _settings(),
        "provider": {"aws": [_aws_provider(job)]},
        "variable": _variables(job),
        "data": data,
        "resource": resource,
        "module": {
            "vpc": vpc_module(job, module_dir=module_dir),
            "eks": eks_module(job, options, module_dir=module_dir),
        },
        "output": {**_outputs(), **dns["output"], **autoscaler["output"], **acme["output"]},
    }


def _merged(blocks: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """``blocks`` of one kind (``data``, ``resource``) with ``more``'s, type by type."""
    merged = dict(blocks)
    for kind, named in more.items():
        merged[kind] = {**merged.get(kind, {}), **named}
    return merged


def _settings() -> dict[str, Any]:
    return {
        "required_version": REQUIRED_TERRAFORM,
        "required_providers": {"aws": {"source": "hashicorp/aws", "version": AWS_PROVIDER}},
        "backend": {"s3": {}},
    }


def _aws_provider(job: InfrastructureJob) -> dict[str, Any]:
    return {"region": "${var.region}", "default_tags": [{"tags": tags_of(job)}]}


def _variables(job: InfrastructureJob) -> dict[str, Any]:
    return {
        "region": {"type": "string", "default": provider_of(job).region},
        "cluster_name": {"type": "string", "default": job.cluster.name},
        "kubernetes_version": {"type": "string", "default": job.cluster.kubernetes_version},
    }


def _data() -> dict[str, Any]:
    return {
        "aws_partition": {"current": {}},
        "aws_availability_zones": {
            # Local and Wavelength zones need an opt-in and lack EKS: standard zones only.
            "available": {
                "state": "available",
                "filter": [{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            }
        },
        "aws_iam_policy_document": {"ebs_csi_assume": _ebs_csi_trust()},
    }


def _ebs_csi_trust() -> dict[str, Any]:
    return irsa.trust_policy(EBS_CSI_SERVICE_ACCOUNT)


def _resources(job: InfrastructureJob) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "aws_iam_role": {
            "ebs_csi": {
                "name": "${var.cluster_name}-ebs-csi",
                "assume_role_policy": "${data.aws_iam_policy_document.ebs_csi_assume.json}",
            }
        },
        "aws_iam_role_policy_attachment": {
            "ebs_csi": {"role": "${aws_iam_role.ebs_csi.name}", "policy_arn": EBS_CSI_POLICY}
        },
    }
    if provider_of(job).secrets_encryption:
        resources["aws_kms_key"] = {
            "secrets": {
                "description": "${var.cluster_name}: Kubernetes secrets encryption",
                "enable_key_rotation": True,
                "deletion_window_in_days": 30,
            }
        }
    return resources


def module_source(source: str, module_dir: Path | None) -> dict[str, str]:
    """The ``source`` (and ``version``) arguments of the pinned module ``source``: the
    registry with its exact version, or its absolute local path (local paths take no
    ``version``)."""
    module = pinned(source)
    if module_dir is None:
        return {"source": module.source, "version": module.version}
    return {"source": str(local_module_path(module_dir, module.source, module.version))}


def vpc_module(job: InfrastructureJob, *, module_dir: Path | None = None) -> dict[str, Any]:
    """The ``vpc`` module block."""
    provider = provider_of(job)
    plan = plan_subnets(provider.vpc_cidr, provider.availability_zones)
    return {
        **module_source(VPC, module_dir),
        "name": "${var.cluster_name}",
        "cidr": provider.vpc_cidr,
        "azs": "${slice(data.aws_availability_zones.available.names, 0, "
        f"{provider.availability_zones})}}",
        "private_subnets": list(plan.private),
        "public_subnets": list(plan.public),
        "enable_nat_gateway": provider.nat_gateway,
        # One NAT gateway for the VPC: zone-redundant egress costs one gateway per zone.
        "single_nat_gateway": True,
        "enable_dns_hostnames": True,
        "enable_dns_support": True,
        "public_subnet_tags": {"kubernetes.io/role/elb": "1"},
        "private_subnet_tags": {"kubernetes.io/role/internal-elb": "1"},
        "tags": tags_of(job),
    }


def eks_module(
    job: InfrastructureJob, options: BlueprintOptions, *, module_dir: Path | None = None
) -> dict[str, Any]:
    """The ``eks`` module block."""
    provider = provider_of(job)
    tags = autoscaler_identity.discovery_tags(job)
    return {
        **module_source(EKS, module_dir),
        "name": "${var.cluster_name}",
        "kubernetes_version": "${var.kubernetes_version}",
        "vpc_id": "${module.vpc.vpc_id}",
        "subnet_ids": "${module.vpc.private_subnets}",
        "control_plane_subnet_ids": "${module.vpc.private_subnets}",
        "endpoint_public_access": provider.endpoint_public_access,
        "endpoint_public_access_cidrs": list(provider.endpoint_public_cidrs),
        "endpoint_private_access": provider.endpoint_private_access,
        **({"service_ipv4_cidr": provider.service_cidr} if provider.service_cidr else {}),
        "enable_irsa": True,
        "enable_cluster_creator_admin_permissions": True,
        "create_kms_key": False,
        "encryption_config": _encryption(provider),
        "addons": _addons(),
        "eks_managed_node_groups": {
            group.name: node_group(group, options, tags=tags) for group in provider.node_groups
        },
        "tags": tags_of(job),
    }


def _encryption(provider: AwsProvider) -> dict[str, Any] | None:
    if not provider.secrets_encryption:
        return None
    return {"provider_key_arn": "${aws_kms_key.secrets.arn}", "resources": ["secrets"]}


def _addons() -> dict[str, Any]:
    return {
        # The CNI must be running before nodes join, or they never become Ready.
        "vpc-cni": {"most_recent": True, "before_compute": True},
        "kube-proxy": {"most_recent": True},
        "coredns": {"most_recent": True},
        "aws-ebs-csi-driver": {
            "most_recent": True,
            "service_account_role_arn": "${aws_iam_role.ebs_csi.arn}",
        },
    }


def node_group(
    group: NodeGroup, options: BlueprintOptions, *, tags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One ``eks_managed_node_groups`` entry; ``tags``: the node group's own (cluster-autoscaler's
    auto-discovery tags, :func:`qengine_aws.autoscaler_identity.discovery_tags`)."""
    desired = group.desired_size if group.desired_size is not None else group.min_size
    block: dict[str, Any] = {
        "name": group.name,
        "instance_types": list(group.instance_types),
        "capacity_type": "SPOT" if group.spot else "ON_DEMAND",
        "min_size": 0 if options.paused else group.min_size,
        "max_size": group.max_size,
        "desired_size": 0 if options.paused else desired,
        # The module's own launch template ignores disk_size; EKS's default one honours it.
        "use_custom_launch_template": False,
        "disk_size": group.disk_size_gib,
        "labels": {"qengine.dev/node-group": group.name},
    }
    if options.node_version is not None:
        block["kubernetes_version"] = options.node_version
    if tags:
        block["tags"] = dict(tags)
    return block


def _outputs() -> dict[str, Any]:
    return {
        "cluster_name": {"value": "${module.eks.cluster_name}"},
        "endpoint": {"value": "${module.eks.cluster_endpoint}"},
        "certificate_authority": {"value": "${module.eks.cluster_certificate_authority_data}"},
        "oidc_issuer_url": {"value": "${module.eks.cluster_oidc_issuer_url}"},
        "cluster_version": {"value": "${module.eks.cluster_version}"},
        "vpc_id": {"value": "${module.vpc.vpc_id}"},
    }
