"""cluster-autoscaler's identity on AWS: an IAM role it assumes through IRSA, allowed to read
the account's Auto Scaling groups and to resize only those of the job's cluster.

When the job's add-on stack runs cluster-autoscaler (``cluster.addons.autoscaler``, as
:func:`qengine_addons.autoscaler_wanted` says), the blueprint adds:

- the auto-discovery tags on every managed node group, ``k8s.io/cluster-autoscaler/enabled``
  and ``k8s.io/cluster-autoscaler/<cluster>`` (``owned``). EKS puts the same two tags on the
  Auto Scaling group behind each managed node group itself; the autoscaler finds its groups
  by them (``--node-group-auto-discovery``), and the role's condition below names the second;
- the role ``<cluster>-cluster-autoscaler``, whose trust policy lets only the cluster's OIDC
  provider assume it, for exactly one subject (cluster-autoscaler's service account in
  ``qengine-system``) and the audience ``sts.amazonaws.com``;
- an inline policy: the reads the autoscaler makes (:data:`READ_ACTIONS`, which take no
  resource in IAM: ``*``), ``eks:DescribeNodegroup`` on the cluster's node groups, and
  ``autoscaling:SetDesiredCapacity`` and ``TerminateInstanceInAutoScalingGroup`` only on
  groups tagged ``k8s.io/cluster-autoscaler/<cluster>`` = ``owned`` (the condition
  ``aws:ResourceTag/...``): it can resize no other cluster's groups. While the cluster is
  paused the write statement is left out, so an autoscaler still running during the pause's
  drain cannot give the node groups nodes back (see docs/aws.md, Pause and resume);
- the output ``cluster_autoscaler_role_arn``, which the add-on step puts on the service
  account (``eks.amazonaws.com/role-arn``), as for external-dns (:mod:`qengine_aws.dns_identity`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine.terraform import OutputValue
from qengine_aws import irsa

ADDON = "cluster-autoscaler"
ROLE_OUTPUT = "cluster_autoscaler_role_arn"
ROLE_NAME = "${var.cluster_name}-cluster-autoscaler"
ENABLED_TAG = "k8s.io/cluster-autoscaler/enabled"
#: What the autoscaler reads to model the node groups; these take no resource in IAM.
READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)
#: What resizes a group: allowed only on the groups tagged for the job's cluster.
SCALE_ACTIONS = (
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
)
NODEGROUP_ACTIONS = ("eks:DescribeNodegroup",)


def autoscaled(job: InfrastructureJob) -> bool:
    """Whether the job's add-on stack runs cluster-autoscaler (never with ``manage: false``)."""
    from qengine_addons import addon_enabled

    return addon_enabled(job, ADDON)


def cluster_tag(job: InfrastructureJob) -> str:
    """The tag key that marks the Auto Scaling groups of the job's cluster."""
    return f"k8s.io/cluster-autoscaler/{job.cluster.name}"


def discovery_tags(job: InfrastructureJob) -> dict[str, str]:
    """The auto-discovery tags of every node group, or none when no autoscaler runs."""
    if not autoscaled(job):
        return {}
    return {ENABLED_TAG: "true", cluster_tag(job): "owned"}


def subject() -> str:
    """The one Kubernetes subject the role trusts: cluster-autoscaler's service account."""
    from qengine_addons import service_account_subject

    return service_account_subject(ADDON)


def trust_policy() -> dict[str, Any]:
    """The role's trust: the cluster's OIDC provider, for cluster-autoscaler's account."""
    return irsa.trust_policy(subject())


def nodegroups_arn() -> str:
    """The ARN pattern of the cluster's managed node groups."""
    return (
        "arn:${data.aws_partition.current.partition}:eks:${var.region}:"
        "${data.aws_caller_identity.current.account_id}:nodegroup/${var.cluster_name}/*"
    )


def scaling_policy(job: InfrastructureJob, *, paused: bool = False) -> dict[str, Any]:
    """The role's permissions: read the groups, resize the cluster's own (not while paused)."""
    statements: list[dict[str, Any]] = [
        {"effect": "Allow", "actions": list(READ_ACTIONS), "resources": ["*"]},
        {"effect": "Allow", "actions": list(NODEGROUP_ACTIONS), "resources": [nodegroups_arn()]},
    ]
    if not paused:
        statements.append(
            {
                "effect": "Allow",
                "actions": list(SCALE_ACTIONS),
                "resources": ["*"],
                "condition": [
                    {
                        "test": "StringEquals",
                        "variable": f"aws:ResourceTag/{cluster_tag(job)}",
                        "values": ["owned"],
                    }
                ],
            }
        )
    return {"statement": statements}


def blueprint_parts(job: InfrastructureJob, *, paused: bool = False) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the role adds to the root module
    (empty blocks when the job runs no cluster-autoscaler)."""
    if not autoscaled(job):
        return {"data": {}, "resource": {}, "output": {}}
    data: dict[str, Any] = {
        "aws_caller_identity": {"current": {}},
        "aws_iam_policy_document": {
            "cluster_autoscaler_assume": trust_policy(),
            "cluster_autoscaler": scaling_policy(job, paused=paused),
        },
    }
    resource, output = irsa.role_blocks(
        "cluster_autoscaler",
        role_name=ROLE_NAME,
        policy_name="node-group-scaling",
        output=ROLE_OUTPUT,
    )
    return {"data": data, "resource": resource, "output": output}


def role_output(outputs: Mapping[str, OutputValue]) -> dict[str, str]:
    """The role's ARN among the module's ``outputs``: ``{"cluster_autoscaler_role_arn": ARN}``,
    or nothing when the module has no such string."""
    return irsa.role_output(outputs, ROLE_OUTPUT)


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """cluster-autoscaler's service account annotations from the apply step's outputs: IRSA's
    role ARN. Raises when the apply returned none, rather than install an autoscaler that can
    read no Auto Scaling group."""
    return irsa.service_account_annotations(
        applied,
        ROLE_OUTPUT,
        lacking="cluster-autoscaler would have no permission on the node groups",
        hint="The root module must output the ARN of cluster-autoscaler's IAM role when "
        "the job runs it; see docs/aws.md.",
    )
