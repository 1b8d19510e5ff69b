"""Pause and resume with AKS's own stop and start (azure-mgmt-containerservice).

A stopped AKS cluster keeps its control plane's state, its node pools' settings and every
object in it, and costs nothing for its nodes or (Free tier) control plane; start brings it
back as it was. The node pools' sizes need no saving: AKS keeps them. Both calls are
long-running operations, waited for through the SDK's poller.

In the sandbox the managed cluster lives in the stand-in Resource Manager, registered by the
stand-in apply (:func:`register_stand_in`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qengine.plugin import InfrastructureError, InvalidInputError
from qengine.spec import InfrastructureJob
from qengine_azure.credentials import AzureAccess

if TYPE_CHECKING:
    from azure.mgmt.containerservice import ContainerServiceClient

Progress = Callable[[str], None]


def _client(access: AzureAccess) -> ContainerServiceClient:
    from azure.mgmt.containerservice import ContainerServiceClient

    return ContainerServiceClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=access.settings.arm_endpoint,
        credential_scopes=[access.settings.arm_scope],
        **access.client_options(),
    )


def cluster_facts(access: AzureAccess, job: InfrastructureJob) -> tuple[str, str] | None:
    """The cluster's power state (``Running`` or ``Stopped``) and Kubernetes version, as AKS
    reports them, or None when it does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    group = access.provider.resource_group.name
    try:
        cluster = _client(access).managed_clusters.get(group, job.cluster.name)
    except ResourceNotFoundError:
        return None
    code = cluster.power_state.code if cluster.power_state is not None else None
    state = str(getattr(code, "value", code) or "Running")  # the SDK gives an enum member
    version = cluster.current_kubernetes_version or cluster.kubernetes_version or ""
    return state, str(version)


def find_power_state(access: AzureAccess, job: InfrastructureJob) -> str | None:
    """``Running`` or ``Stopped``, or None when the cluster does not exist."""
    facts = cluster_facts(access, job)
    return facts[0] if facts is not None else None


def power_state(access: AzureAccess, job: InfrastructureJob) -> str:
    """``Running`` or ``Stopped``; InvalidInputError when the cluster does not exist."""
    state = find_power_state(access, job)
    if state is None:
        group = access.provider.resource_group.name
        raise InvalidInputError(
            f"the AKS cluster {job.cluster.name} does not exist in {group}",
            hint="Create the cluster first (action create).",
        )
    return state


def set_power(
    access: AzureAccess, job: InfrastructureJob, running: bool, progress: Progress
) -> dict[str, str]:
    """Start or stop the cluster unless it already is; returns its power state."""
    from azure.core.exceptions import HttpResponseError

    wanted = "Running" if running else "Stopped"
    if power_state(access, job) == wanted:
        progress(f"the AKS cluster {job.cluster.name} is already {wanted.lower()}")
        return {"power_state": wanted}
    group, name = access.provider.resource_group.name, job.cluster.name
    clusters = _client(access).managed_clusters
    try:
        poller = clusters.begin_start(group, name) if running else clusters.begin_stop(group, name)
        poller.result()
    except HttpResponseError as exc:
        code = exc.error.code if exc.error is not None else exc.status_code
        raise InfrastructureError(
            f"AKS refused to {'start' if running else 'stop'} {name}: {code}: {exc.message}",
            hint="A cluster can be stopped only when it is Running and Succeeded.",
        ) from exc
    progress(f"{'started' if running else 'stopped'} the AKS cluster {name}")
    return {"power_state": wanted}


def register_stand_in(access: AzureAccess, job: InfrastructureJob, outputs: dict[str, str]) -> None:
    """Sandbox: tell the stand-in Resource Manager of the managed cluster the stand-in apply
    made, or of its new version (a stopped cluster stays stopped)."""
    arm = access.settings.stand_in
    if arm is None or "cluster_id" not in outputs:
        return
    existing = arm.resource(outputs["cluster_id"])
    if existing is not None:
        # An apply at a new version upgrades it; its power state is AKS's, not Terraform's.
        properties = existing.setdefault("properties", {})
        properties["kubernetesVersion"] = job.cluster.kubernetes_version
        properties["currentKubernetesVersion"] = job.cluster.kubernetes_version
        arm.put_resource(outputs["cluster_id"], existing)
        return
    body: dict[str, Any] = {
        "id": outputs["cluster_id"],
        "name": job.cluster.name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "location": access.provider.location,
        "properties": {
            "provisioningState": "Succeeded",
            "powerState": {"code": "Running"},
            "kubernetesVersion": job.cluster.kubernetes_version,
            "currentKubernetesVersion": job.cluster.kubernetes_version,
            "nodeResourceGroup": outputs.get("node_resource_group", ""),
        },
    }
    arm.put_resource(outputs["cluster_id"], body)


def forget_stand_in(access: AzureAccess, cluster_id: str) -> None:
    """Sandbox: the stand-in managed cluster is gone with its Terraform state."""
    if access.settings.stand_in is not None and cluster_id:
        access.settings.stand_in.delete_resource(cluster_id)
