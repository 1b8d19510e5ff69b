"""Pause and resume with AKS's own stop and start (azure-mgmt-containerservice).

A stopped AKS cluster keeps its control plane's state, its node pools' settings and every
object in it, and costs nothing for its nodes or (Free tier) control plane; start brings it
back as it was. The node pools' sizes need no saving: AKS keeps them. Both calls are
long-running operations, waited for through the SDK's poller.

Both waits honour the job's cancel token: a cancelled stop or start stops waiting (AKS goes
on with the operation) and the job is rolled back. A pause or a resume that fails or is
cancelled is undone only when this job changed the cluster's power state
(:func:`undo_power`): a pause of a cluster that was running starts it again, a resume of a
cluster that was stopped stops it again, each once the operation in flight has ended; a
cluster already in the state the job asked for is left as it is.

In the sandbox the managed cluster lives in the stand-in Resource Manager, registered by the
stand-in apply (:func:`register_stand_in`); its stop and start stay in flight for a while
(``Stopping``, ``Starting``), as AKS's do for minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qengine.plugin import CancelledError, CancelToken, InfrastructureError, InvalidInputError
from qengine.spec import InfrastructureJob
from qengine_azure.credentials import AzureAccess

if TYPE_CHECKING:
    from azure.mgmt.containerservice import ContainerServiceClient

Progress = Callable[[str], None]
#: Seconds between two looks at a long-running operation (AKS's stop and start take minutes).
POLL_SECONDS = 2.0
#: Provisioning states of an operation still going on.
_BUSY = frozenset({"Starting", "Stopping", "Updating", "Upgrading", "Scaling", "Creating"})


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
    access: AzureAccess,
    job: InfrastructureJob,
    running: bool,
    progress: Progress,
    cancel: CancelToken | None = None,
) -> dict[str, str]:
    """Start or stop the cluster unless it already is; returns its power state and whether
    this call changed it (``changed``: ``yes`` or ``no``). ``cancel`` stops the wait (AKS goes
    on) with a CancelledError."""
    from azure.core.exceptions import HttpResponseError

    wanted = "Running" if running else "Stopped"
    if power_state(access, job) == wanted:
        progress(f"the AKS cluster {job.cluster.name} is already {wanted.lower()}")
        return {"power_state": wanted, "changed": "no"}
    group, name = access.provider.resource_group.name, job.cluster.name
    clusters = _client(access).managed_clusters
    verb = "start" if running else "stop"
    try:
        # AKS's own Retry-After, when it sends one, overrides the interval.
        begin = clusters.begin_start if running else clusters.begin_stop
        poller = begin(group, name, polling_interval=POLL_SECONDS)
        while not poller.done():
            poller.wait(POLL_SECONDS)  # returns as soon as the operation ends
            if cancel is not None and cancel.cancelled and not poller.done():
                raise CancelledError(
                    f"cancelled while AKS was {'starting' if running else 'stopping'} {name} "
                    "(AKS goes on with it)"
                )
        poller.result()
    except HttpResponseError as exc:
        code = exc.error.code if exc.error is not None else exc.status_code
        raise InfrastructureError(
            f"AKS refused to {verb} {name}: {code}: {exc.message}",
            hint="A cluster can be stopped only when it is Running and Succeeded.",
        ) from exc
    progress(f"{'started' if running else 'stopped'} the AKS cluster {name}")
    return {"power_state": wanted, "changed": "yes"}


def undo_power(
    access: AzureAccess,
    job: InfrastructureJob,
    before: str,
    progress: Progress,
    cancel: CancelToken,
) -> None:
    """Put the cluster back in the power state ``before`` (``Running`` or ``Stopped``, as the
    preflight read it before the job) when it is no longer in it: this job changed it. A
    cluster absent before the job, or still as it was, is left alone. An operation still in
    flight (a cancelled stop or start) is waited for first: AKS refuses a second one."""
    if before not in ("Running", "Stopped"):
        progress(f"the AKS cluster {job.cluster.name} did not exist before this job: left as it is")
        return
    state = _settled_power(access, job, cancel)
    if state is None or state == before:
        progress(f"the AKS cluster {job.cluster.name} is {before.lower()}, as before this job")
        return
    set_power(access, job, before == "Running", progress, cancel)


def _settled_power(access: AzureAccess, job: InfrastructureJob, cancel: CancelToken) -> str | None:
    """The cluster's power state once no operation is in flight on it (None: it is gone)."""
    from azure.core.exceptions import ResourceNotFoundError

    group = access.provider.resource_group.name
    while True:
        try:
            cluster = _client(access).managed_clusters.get(group, job.cluster.name)
        except ResourceNotFoundError:
            return None
        if str(cluster.provisioning_state or "") not in _BUSY:
            code = cluster.power_state.code if cluster.power_state is not None else None
            return str(getattr(code, "value", code) or "Running")
        if cancel.wait(POLL_SECONDS):
            raise CancelledError(f"cancelled while waiting for AKS to settle {job.cluster.name}")


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
