"""The sandbox's stand-in cluster and node pools, registered in the local GKE stand-in.

The sandbox applies ``terraform_data`` stand-ins, so the Container API (the sandbox's
:mod:`qengine_gcp.sandbox_gke`) would know no cluster and no node pool, and pause and resume
would have nothing to read or resize. After each sandbox apply, :func:`register_stand_ins`
makes it hold what the real apply would have made, through the Container API with the
official client: the cluster, and the job's node pools (a new one with its initial nodes per
zone; an existing one gets the job's autoscaling range, as the module's apply does; one no
longer in the job is deleted). :func:`remove_stand_ins` deletes them after a destroy.
Sandbox only; idempotent.
"""

from __future__ import annotations

from typing import Any

from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import BlueprintOptions, node_pool, provider_of
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import cluster_path, container_client

#: Step messages start with this, so nobody takes the stand-ins for GKE resources.
STAND_IN = "SANDBOX stand-in (the local GKE stand-in, nothing on Google Cloud):"


def _pool_body(block: dict[str, Any], zones: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": block["name"],
        "initial_node_count": block["initial_node_count"],
        "autoscaling": {
            "enabled": True,
            "min_node_count": block["min_count"],
            "max_node_count": block["max_count"],
        },
        "config": {
            "machine_type": block["machine_type"],
            "disk_size_gb": block["disk_size_gb"],
            "spot": block["spot"],
        },
    }
    if zones:
        body["locations"] = zones
    return body


def register_stand_ins(
    access: GcpAccess, job: InfrastructureJob, options: BlueprintOptions
) -> list[str]:
    """Make the local GKE hold the stand-in cluster and its pools; the changes made."""
    from google.api_core import exceptions
    from google.cloud import container_v1

    provider = provider_of(job)
    client = container_client(access)
    path = cluster_path(access, job.cluster.name)
    blocks = {pool.name: node_pool(pool, provider, options) for pool in provider.node_pools}
    zones = list(provider.zones)
    changes: list[str] = []
    with access.call(f"reading the stand-in cluster {job.cluster.name}"):
        try:
            cluster = client.get_cluster(name=path)
        except exceptions.NotFound:
            cluster = None
    if cluster is None:
        body = container_v1.Cluster(
            name=job.cluster.name,
            initial_cluster_version=job.cluster.kubernetes_version,
            locations=zones,
            node_pools=[_pool_body(block, zones) for block in blocks.values()],
        )
        parent = path.rsplit("/clusters/", 1)[0]
        with access.call(f"registering the stand-in cluster {job.cluster.name}"):
            client.create_cluster(parent=parent, cluster=body)
        changes.append(f"registered the cluster {job.cluster.name} and its node pools")
        return [f"{STAND_IN} {change}" for change in changes]
    found = {pool.name: pool for pool in cluster.node_pools}
    for name, block in blocks.items():
        if name not in found:
            with access.call(f"registering the stand-in node pool {name}"):
                client.create_node_pool(parent=path, node_pool=_pool_body(block, zones))
            changes.append(f"registered the node pool {name}")
            continue
        scaling = found[name].autoscaling
        if (scaling.min_node_count, scaling.max_node_count) != (
            block["min_count"],
            block["max_count"],
        ):
            with access.call(f"setting the range of the stand-in node pool {name}"):
                client.set_node_pool_autoscaling(
                    request={
                        "name": f"{path}/nodePools/{name}",
                        "autoscaling": {
                            "enabled": True,
                            "min_node_count": block["min_count"],
                            "max_node_count": block["max_count"],
                        },
                    }
                )
            changes.append(
                f"set the node pool {name} to min {block['min_count']}, max {block['max_count']}"
            )
    for name in sorted(set(found) - set(blocks)):
        with access.call(f"deleting the stand-in node pool {name}"):
            client.delete_node_pool(name=f"{path}/nodePools/{name}")
        changes.append(f"deleted the node pool {name}")
    return [f"{STAND_IN} {change}" for change in changes]


def remove_stand_ins(access: GcpAccess, job: InfrastructureJob) -> list[str]:
    """Delete the stand-in cluster (and its pools); the changes made."""
    from google.api_core import exceptions

    client = container_client(access)
    with access.call(f"deleting the stand-in cluster {job.cluster.name}"):
        try:
            client.delete_cluster(name=cluster_path(access, job.cluster.name))
        except exceptions.NotFound:
            return []
    return [f"{STAND_IN} deleted the cluster {job.cluster.name}"]
