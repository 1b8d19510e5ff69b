"""The sandbox's stand-in cluster and node groups, registered in moto's EKS.

The sandbox applies ``terraform_data`` stand-ins, so EKS (moto) would know no cluster and no
node group, and pause and resume would have nothing to read or scale. After each sandbox apply,
:func:`register_stand_ins` makes moto's EKS hold what the real apply would have made: the
cluster, and one managed node group per job node group, named as the module names them (the
job's name and a suffix) and labelled ``qengine.dev/node-group``. It does what the real
module's node groups do on an apply: a new one gets the module's min, max and desired; an
existing one gets the module's min and max and keeps its desired size (the module ignores it),
and EKS's refusal of a desired size outside [min, max] is reproduced; one no longer in the job
is deleted. :func:`remove_stand_ins` deletes them after a sandbox destroy.

Sandbox-only: nothing here runs against AWS itself. Everything is idempotent (a second call
changes nothing).

moto 5.2 takes any scaling (it does not check min <= desired <= max), applies an
``UpdateNodegroupConfig`` at once and always reports node groups ACTIVE; the poll in
:mod:`qengine_aws.node_groups` therefore ends at its first read in the sandbox.
"""

from __future__ import annotations

import hashlib
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.spec import InfrastructureJob
from qengine_aws.blueprint import BlueprintOptions, node_group, provider_of, tags_of
from qengine_aws.credentials import AwsAccess
from qengine_aws.node_groups import EksNodeGroup, Scaling, cluster_node_groups
from qengine_aws.spec import NodeGroup

#: Step messages start with this, so nobody takes the stand-ins for AWS resources.
STAND_IN = "SANDBOX stand-in (moto's EKS, nothing on AWS):"


def stand_in_name(job: InfrastructureJob, group: NodeGroup) -> str:
    """EKS's name of a stand-in node group: the job's name and a stable suffix, as the module
    adds one (so matching by label, not by name, is exercised)."""
    suffix = hashlib.sha256(f"{job.cluster.id}/{group.name}".encode()).hexdigest()[:26]
    return f"{group.name[:36]}-{suffix}"


def register_stand_ins(
    access: AwsAccess, job: InfrastructureJob, options: BlueprintOptions, *, account: str
) -> list[str]:
    """Make moto's EKS hold the stand-in cluster and its node groups; the changes made."""
    eks = access.client("eks")
    changes = _ensure_cluster(access, eks, job, account)
    current = cluster_node_groups(access, job.cluster.name)
    provider = provider_of(job)
    for group in provider.node_groups:
        block = node_group(group, options)
        scaling = Scaling(
            min_size=block["min_size"],
            max_size=block["max_size"],
            desired_size=block["desired_size"],
        )
        found = current.get(group.name)
        if found is None:
            changes.append(_create_group(access, eks, job, group, block, scaling, account))
        elif (found.scaling.min_size, found.scaling.max_size) != (
            scaling.min_size,
            scaling.max_size,
        ):
            changes.append(_resize_group(access, eks, job, found, scaling))
    wanted = {group.name for group in provider.node_groups}
    for name in sorted(set(current) - wanted):
        changes.append(_delete_group(access, eks, job.cluster.name, current[name].name))
    return [f"{STAND_IN} {change}" for change in changes]


def remove_stand_ins(access: AwsAccess, cluster_name: str) -> list[str]:
    """Delete the stand-in node groups and cluster from moto's EKS; the changes made."""
    eks = access.client("eks")
    changes = [
        _delete_group(access, eks, cluster_name, group.name)
        for group in cluster_node_groups(access, cluster_name).values()
    ]
    gone = access.unless_absent(
        f"deleting the stand-in cluster {cluster_name}",
        lambda: eks.delete_cluster(name=cluster_name),
        "ResourceNotFoundException",
    )
    if gone is not None:
        changes.append(f"deleted the cluster {cluster_name}")
    return [f"{STAND_IN} {change}" for change in changes]


def _role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/qengine-sandbox-{name}"


def _ensure_cluster(access: AwsAccess, eks: Any, job: InfrastructureJob, account: str) -> list[str]:
    name = job.cluster.name
    found = access.unless_absent(
        f"looking up the stand-in cluster {name}",
        lambda: eks.describe_cluster(name=name),
        "ResourceNotFoundException",
    )
    if found is not None:
        return []
    with access.call(f"registering the stand-in cluster {name}"):
        eks.create_cluster(
            name=name,
            version=job.cluster.kubernetes_version,
            roleArn=_role(account, "cluster"),
            resourcesVpcConfig={"subnetIds": []},
            tags=tags_of(job),
        )
    return [f"registered the cluster {name}"]


def _create_group(
    access: AwsAccess,
    eks: Any,
    job: InfrastructureJob,
    group: NodeGroup,
    block: dict[str, Any],
    scaling: Scaling,
    account: str,
) -> str:
    name = stand_in_name(job, group)
    with access.call(f"registering the stand-in node group {name}"):
        eks.create_nodegroup(
            clusterName=job.cluster.name,
            nodegroupName=name,
            scalingConfig=scaling.config(),
            instanceTypes=block["instance_types"],
            capacityType=block["capacity_type"],
            diskSize=block["disk_size"],
            labels=block["labels"],
            nodeRole=_role(account, "nodes"),
            subnets=[],
            tags=tags_of(job),
        )
    return f"registered the node group {name} ({scaling.describe()})"


def _resize_group(
    access: AwsAccess, eks: Any, job: InfrastructureJob, found: EksNodeGroup, module: Scaling
) -> str:
    # The module ignores desired_size: min and max change, the number of nodes stays.
    kept = found.scaling.desired_size
    if not module.min_size <= kept <= module.max_size:
        raise InfrastructureError(
            f"{STAND_IN} EKS refuses min {module.min_size}, max {module.max_size} for the node "
            f"group {found.name}: its desired size is {kept}",
            hint="Scale the node group into the new range first (resume does so).",
        )
    target = Scaling(min_size=module.min_size, max_size=module.max_size, desired_size=kept)
    with access.call(f"resizing the stand-in node group {found.name}"):
        eks.update_nodegroup_config(
            clusterName=job.cluster.name, nodegroupName=found.name, scalingConfig=target.config()
        )
    return f"set the node group {found.name} to {target.describe()}"


def _delete_group(access: AwsAccess, eks: Any, cluster_name: str, name: str) -> str:
    access.unless_absent(
        f"deleting the stand-in node group {name}",
        lambda: eks.delete_nodegroup(clusterName=cluster_name, nodegroupName=name),
        "ResourceNotFoundException",
    )
    return f"deleted the node group {name}"
