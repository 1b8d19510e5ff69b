"""Checks of an AWS infrastructure job that need no network."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

from qengine import SpecIssue
from qengine.spec import InfrastructureJob, Job
from qengine_aws.catalog import EKS_VERSIONS, REGIONS
from qengine_aws.network import SUBNET_BITS
from qengine_aws.spec import AwsProvider, EcrRegistry, NodeGroup

_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}")
_INSTANCE_TYPE = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
_ECR_PREFIX = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
# AWS's own character set of tags (letters, digits, spaces, + - = . _ : / @): it leaves out
# `$`, `%`, `{` and `}`, so a tag can never be a Terraform template sequence in main.tf.json.
_TAG = re.compile(r"[\w\s+\-=.:/@]*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_KMS_KEY = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(?:key|alias)/[\w/+=,.@-]{1,256}")
_BASE = "$.cluster.provider"
_PRIVATE_BLOCKS = tuple(
    ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)


def check_job(job: Job) -> list[SpecIssue]:
    """Issues of a job's AWS sections (an ECR registry in any job, an AWS cluster)."""
    issues = list(_check_registry(job.registry)) if isinstance(job.registry, EcrRegistry) else []
    if not isinstance(job, InfrastructureJob) or not isinstance(job.cluster.provider, AwsProvider):
        return issues
    return issues + _check_cluster(job, job.cluster.provider)


def _check_registry(registry: EcrRegistry) -> Iterator[SpecIssue]:
    if registry.region not in REGIONS:
        yield SpecIssue("$.registry.region", f"is not an AWS region: {registry.region!r}")
    if not 1 <= registry.keep_last <= 10000:
        yield SpecIssue("$.registry.keep_last", "must be from 1 to 10000 images")
    if registry.prefix and not _ECR_PREFIX.fullmatch(registry.prefix):
        yield SpecIssue(
            "$.registry.prefix",
            "must be lower-case letters, digits and . _ - / separators (an ECR namespace)",
        )


#: IAM role names are at most 64 characters, and a ``name_prefix`` at most 38: the AWS provider
#: appends a 26-character unique suffix to it.
IAM_ROLE_NAME_MAX = 64
IAM_ROLE_PREFIX_MAX = IAM_ROLE_NAME_MAX - 26
#: The IAM roles the EKS blueprint names after the cluster: ``<name><suffix>`` (its own roles:
#: the EBS CSI driver's, external-dns's, cert-manager's and cluster-autoscaler's; a test
#: checks this list against the roles the blueprint makes).
ROLE_SUFFIXES = ("-ebs-csi", "-external-dns", "-cert-manager", "-cluster-autoscaler")
#: The IAM role name prefixes the pinned EKS module (terraform-aws-modules/eks 21.19.0) makes
#: from the cluster's name: the cluster's own role, ``name_prefix = "<name>-cluster-"`` (its
#: ``iam_role_name`` defaults to ``<name>-cluster``, ``iam_role_use_name_prefix`` to true,
#: ``prefix_separator`` to ``-``). Its other prefixes from the cluster's name leave more room:
#: security groups ``<name>-cluster-`` and ``<name>-node-`` (255 less 26) and the encryption
#: policy ``<name>-cluster-ClusterEncryption`` (IAM policies: 128 less 26). The VPC module
#: (terraform-aws-modules/vpc 6.6.0) uses name prefixes only for flow logs, which the
#: blueprint leaves off.
MODULE_ROLE_PREFIX_SUFFIXES = ("-cluster-",)
_LONGEST_ROLE = max(ROLE_SUFFIXES, key=len)
_LONGEST_PREFIX = max(MODULE_ROLE_PREFIX_SUFFIXES, key=len)
#: The longest cluster name every one of those names fits: 29 (the module's role prefix
#: decides; the blueprint's roles alone would allow 45).
MAX_CLUSTER_NAME = min(
    IAM_ROLE_NAME_MAX - len(_LONGEST_ROLE), IAM_ROLE_PREFIX_MAX - len(_LONGEST_PREFIX)
)
#: Each node group's IAM role, made by the module's node group sub-module, is prefixed
#: ``<group>-eks-node-group-``, and the node group itself ``<group>-`` (EKS: 63 less 26):
#: group names of at most 22 characters fit both.
NODE_GROUP_ROLE_PREFIX_SUFFIX = "-eks-node-group-"
MAX_NODE_GROUP_NAME = IAM_ROLE_PREFIX_MAX - len(NODE_GROUP_ROLE_PREFIX_SUFFIX)


def _cluster_name_issue(name: str) -> SpecIssue | None:
    if len(name) <= MAX_CLUSTER_NAME:
        return None
    return SpecIssue(
        "$.cluster.name",
        f"is {len(name)} characters; at most {MAX_CLUSTER_NAME} on AWS: IAM names are made from "
        f"it, the EKS module's role prefix <name>{_LONGEST_PREFIX} (IAM role name prefixes are "
        f"at most {IAM_ROLE_PREFIX_MAX} characters: 64 less the 26 Terraform appends) and the "
        f"blueprint's roles up to <name>{_LONGEST_ROLE} (at most {IAM_ROLE_NAME_MAX})",
    )


def _check_cluster(job: InfrastructureJob, provider: AwsProvider) -> list[SpecIssue]:
    issues = list(_check_provider(provider))
    name_issue = _cluster_name_issue(job.cluster.name)
    if name_issue is not None:
        issues.append(name_issue)
    dns_kind = getattr(job.dns, "kind", None)
    if job.cluster.addons.acme_challenge == "dns01" and dns_kind not in (None, "route53"):
        issues.append(
            SpecIssue(
                "$.cluster.addons.acme_challenge",
                f"is dns01 with a {dns_kind} zone: on EKS, cert-manager gets an identity (IRSA) "
                "for a route53 zone only",
            )
        )
    if job.cluster.kubernetes_version not in EKS_VERSIONS:
        issues.append(
            SpecIssue(
                "$.cluster.kubernetes_version",
                f"EKS does not offer Kubernetes {job.cluster.kubernetes_version} "
                f"(offered: {', '.join(EKS_VERSIONS)})",
            )
        )
    for index, group in enumerate(provider.node_groups):
        issues.extend(_check_node_group(group, f"{_BASE}.node_groups[{index}]"))
    return issues


def _check_provider(provider: AwsProvider) -> Iterator[SpecIssue]:
    if provider.region not in REGIONS:
        yield SpecIssue(f"{_BASE}.region", f"is not an AWS region: {provider.region!r}")
    if provider.role_arn is not None and not _ROLE_ARN.fullmatch(provider.role_arn):
        yield SpecIssue(
            f"{_BASE}.role_arn", "must be an IAM role ARN: arn:aws:iam::123456789012:role/name"
        )
    if (provider.access_key_id is None) != (provider.secret_access_key is None):
        yield SpecIssue(
            f"{_BASE}.secret_access_key", "access_key_id and secret_access_key go together"
        )
    if not 2 <= provider.availability_zones <= 6:
        yield SpecIssue(f"{_BASE}.availability_zones", "must be from 2 to 6")
    network = ipaddress.ip_network(provider.vpc_cidr)
    if network.version != 4 or not 16 <= network.prefixlen <= 24:
        yield SpecIssue(
            f"{_BASE}.vpc_cidr",
            "must be an IPv4 network from /16 to /24, to fit a public and a private "
            "subnet in each availability zone",
        )
    elif 2 * provider.availability_zones > 2**SUBNET_BITS:
        yield SpecIssue(f"{_BASE}.vpc_cidr", "is too small for the subnets")
    if provider.service_cidr is not None:
        yield from _check_service_cidr(ipaddress.ip_network(provider.service_cidr), network)
    yield from _check_tags(provider)
    yield from _check_state(provider)
    if not provider.node_groups:
        yield SpecIssue(f"{_BASE}.node_groups", "needs at least one node group")
    names = [group.name for group in provider.node_groups]
    for index, name in enumerate(names):
        if name in names[:index]:
            yield SpecIssue(f"{_BASE}.node_groups[{index}].name", f"duplicates {name!r}")


def _check_tags(provider: AwsProvider) -> Iterator[SpecIssue]:
    """Tags within AWS's limits: they go into the Terraform module as data, never as code."""
    for key, value in provider.tags.items():
        path = f"{_BASE}.tags[{key!r}]"
        if not (1 <= len(key) <= 128 and _TAG.fullmatch(key)) or key.startswith("aws:"):
            yield SpecIssue(
                path,
                "tag keys are 1-128 letters, digits, spaces and + - = . _ : / @, "
                "not starting with aws:",
            )
        elif not (len(value) <= 256 and _TAG.fullmatch(value)):
            yield SpecIssue(
                path, "tag values are at most 256 letters, digits, spaces and + - = . _ : / @"
            )


def _check_state(provider: AwsProvider) -> Iterator[SpecIssue]:
    state, path = provider.state, f"{_BASE}.state"
    if state.bucket is not None and (not _BUCKET.fullmatch(state.bucket) or ".." in state.bucket):
        yield SpecIssue(f"{path}.bucket", "must be an S3 bucket name (3-63 a-z, 0-9, '.', '-')")
    if not _TABLE.fullmatch(state.lock_table):
        yield SpecIssue(
            f"{path}.lock_table", "must be a DynamoDB table name (3-255 A-Z, a-z, 0-9, _ . -)"
        )
    if state.kms_key_arn is not None and not _KMS_KEY.fullmatch(state.kms_key_arn):
        yield SpecIssue(
            f"{path}.kms_key_arn",
            "must be a KMS key or alias ARN: arn:aws:kms:<region>:<account>:key/<id>",
        )


def _check_service_cidr(
    service: ipaddress.IPv4Network | ipaddress.IPv6Network,
    vpc: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> Iterator[SpecIssue]:
    path = f"{_BASE}.service_cidr"
    if not isinstance(service, ipaddress.IPv4Network) or not 12 <= service.prefixlen <= 24:
        yield SpecIssue(path, "must be an IPv4 network from /12 to /24 (EKS's limits)")
    elif not any(service.subnet_of(block) for block in _PRIVATE_BLOCKS):
        yield SpecIssue(
            path, "must lie in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 (EKS's limits)"
        )
    elif service.overlaps(vpc):
        yield SpecIssue(
            path,
            f"overlaps the VPC's {vpc}: Service addresses would shadow pods and nodes; "
            "choose a range outside vpc_cidr",
        )


def _check_node_group(group: NodeGroup, path: str) -> Iterator[SpecIssue]:
    if len(group.name) > MAX_NODE_GROUP_NAME:
        yield SpecIssue(
            f"{path}.name",
            f"is {len(group.name)} characters; at most {MAX_NODE_GROUP_NAME} on AWS: the EKS "
            f"module prefixes the node group's IAM role <name>{NODE_GROUP_ROLE_PREFIX_SUFFIX}, "
            f"and IAM role name prefixes are at most {IAM_ROLE_PREFIX_MAX} characters",
        )
    if group.min_size < 0:
        yield SpecIssue(f"{path}.min_size", "must not be negative")
    if group.min_size > group.max_size:
        yield SpecIssue(f"{path}.max_size", "must not be below min_size")
    desired = group.desired_size
    if desired is not None and not group.min_size <= desired <= group.max_size:
        yield SpecIssue(f"{path}.desired_size", "must be between min_size and max_size")
    if not group.instance_types:
        yield SpecIssue(f"{path}.instance_types", "needs at least one instance type")
    for index, instance_type in enumerate(group.instance_types):
        if not _INSTANCE_TYPE.fullmatch(instance_type):
            yield SpecIssue(
                f"{path}.instance_types[{index}]",
                f"is not an EC2 instance type such as t3.large: {instance_type!r}",
            )
    if not 20 <= group.disk_size_gib <= 16384:
        yield SpecIssue(f"{path}.disk_size_gib", "must be from 20 to 16384")
