"""Managed node groups as EKS holds them: read their scaling, change it, wait for it.

The blueprint labels every node group ``qengine.dev/node-group: <the job's name>``; EKS's own
names carry a suffix the community module adds (``name_prefix``), so node groups are matched to
the job by that label, never by name. A node group without the label was not made by qengine
and is never read into a plan nor touched.

:func:`converge` sends ``UpdateNodegroupConfig`` only to a node group that is ACTIVE and does
not already hold the wanted scaling (EKS refuses an update that changes nothing and one sent
while another is in progress), then polls ``DescribeNodegroup`` through the plugin's bounded
poll policy until every node group is ACTIVE with it. The job's cancel token interrupts the
wait. Running it again after a kill converges: what already holds its scaling is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from qengine.plugin import CancelToken, ConflictError, InfrastructureError, TransientError
from qengine_aws.credentials import AwsAccess

NODE_GROUP_LABEL = "qengine.dev/node-group"
_FAILED = frozenset({"CREATE_FAILED", "DELETE_FAILED"})


class ScalingPending(TransientError):
    """A node group is not yet ACTIVE with the wanted scaling (retried by the poll policy)."""


@attrs.frozen(kw_only=True)
class Scaling:
    """A node group's scaling: its bounds and the number of nodes wanted now."""

    min_size: int
    max_size: int
    desired_size: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> Scaling:
        """From EKS's ``scalingConfig`` (``minSize``, ``maxSize``, ``desiredSize``)."""
        return cls(
            min_size=int(config["minSize"]),
            max_size=int(config["maxSize"]),
            desired_size=int(config["desiredSize"]),
        )

    def config(self) -> dict[str, int]:
        """EKS's ``scalingConfig``."""
        return {
            "minSize": self.min_size,
            "maxSize": self.max_size,
            "desiredSize": self.desired_size,
        }

    def describe(self) -> str:
        """``min 2, max 6, desired 3``."""
        return f"min {self.min_size}, max {self.max_size}, desired {self.desired_size}"


@attrs.frozen(kw_only=True)
class EksNodeGroup:
    """One managed node group: the job's name for it (its label), EKS's name, its state."""

    group: str
    name: str
    status: str
    scaling: Scaling


def cluster_node_groups(access: AwsAccess, cluster_name: str) -> dict[str, EksNodeGroup]:
    """The cluster's node groups made by qengine, keyed by the job's node group name.

    Empty when the cluster does not exist (nothing to read, nothing to scale). Two node groups
    with the same label (the module replacing one: it creates the new one before it deletes
    the old) are a :class:`ConflictError`: which one's size counts is not for us to guess.
    """
    eks = access.client("eks")
    names = _list_names(access, eks, cluster_name)
    found: dict[str, EksNodeGroup] = {}
    for name in names:
        group = _describe(access, eks, cluster_name, name)
        if group is None or not group.group:
            continue
        if group.group in found:
            raise ConflictError(
                f"two node groups of {cluster_name} are labelled {NODE_GROUP_LABEL}="
                f"{group.group}: {found[group.group].name} and {group.name}",
                hint="A node group is being replaced; run the job again once only one is left.",
            )
        found[group.group] = group
    return found


def _list_names(access: AwsAccess, eks: Any, cluster_name: str) -> list[str]:
    def pages() -> list[str]:
        paginator = eks.get_paginator("list_nodegroups")
        return [
            n for page in paginator.paginate(clusterName=cluster_name) for n in page["nodegroups"]
        ]

    # The cluster is looked up first: a missing cluster is an answer here, not an error.
    cluster = access.unless_absent(
        f"looking up the EKS cluster {cluster_name}",
        lambda: eks.describe_cluster(name=cluster_name),
        "ResourceNotFoundException",
    )
    if cluster is None:
        return []
    names = access.unless_absent(
        f"listing the node groups of {cluster_name}", pages, "ResourceNotFoundException"
    )
    return names or []


def converge(
    access: AwsAccess,
    cluster_name: str,
    targets: Mapping[str, Scaling],
    *,
    cancel: CancelToken,
) -> dict[str, Scaling]:
    """Bring each node group (EKS name -> scaling) to its scaling and wait until it holds it.

    Returns each node group's scaling as EKS last described it. A node group that disappears
    meanwhile is left out. Raises :class:`ScalingPending` when the poll policy's budget ends
    first, :class:`InfrastructureError` when a node group is in a failed state.
    """
    eks = access.client("eks")
    sent: set[str] = set()
    held: dict[str, Scaling] = {}

    def attempt() -> None:
        pending = []
        for name, target in targets.items():
            group = _describe(access, eks, cluster_name, name)
            if group is None:
                held.pop(name, None)
                continue
            held[name] = group.scaling
            if not _settled(group, target):
                pending.append(name)
                if group.status == "ACTIVE" and name not in sent:
                    _update(access, eks, cluster_name, name, target, sent)
        if pending:
            raise ScalingPending(
                f"node groups of {cluster_name} not yet ACTIVE at their sizes: "
                + ", ".join(sorted(pending)),
                hint="EKS did not finish scaling in time; run the job again to keep waiting.",
                retry_after=access.settings.poll_interval,
            )

    access.settings.poll.call(attempt, cancel=cancel)
    return held


def _settled(group: EksNodeGroup, target: Scaling) -> bool:
    if group.status in _FAILED:
        raise InfrastructureError(
            f"the node group {group.name} is {group.status}",
            hint="See the node group's health issues in the EKS console, fix them, run again.",
        )
    return group.status == "ACTIVE" and group.scaling == target


def _describe(access: AwsAccess, eks: Any, cluster_name: str, name: str) -> EksNodeGroup | None:
    answer = access.unless_absent(
        f"reading the node group {name}",
        lambda: eks.describe_nodegroup(clusterName=cluster_name, nodegroupName=name),
        "ResourceNotFoundException",
    )
    if answer is None:
        return None
    nodegroup = answer["nodegroup"]
    label = (nodegroup.get("labels") or {}).get(NODE_GROUP_LABEL, "")
    return EksNodeGroup(
        group=str(label),
        name=name,
        status=str(nodegroup.get("status", "")),
        scaling=Scaling.of(nodegroup["scalingConfig"]),
    )


def _update(
    access: AwsAccess, eks: Any, cluster_name: str, name: str, target: Scaling, sent: set[str]
) -> None:
    # An update already in progress (ours, from a run that was killed) answers
    # ResourceInUseException: keep waiting, and send ours once that one is done.
    answer = access.unless_absent(
        f"scaling the node group {name} to {target.describe()}",
        lambda: eks.update_nodegroup_config(
            clusterName=cluster_name, nodegroupName=name, scalingConfig=target.config()
        ),
        "ResourceInUseException",
    )
    if answer is not None:
        sent.add(name)
