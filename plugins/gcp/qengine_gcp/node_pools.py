"""A GKE cluster's node pools through the Container API, their sizes through Compute.

GKE's node pool resource holds its autoscaling range but not its size: a pool has a managed
instance group per zone (``instanceGroupUrls``), whose ``targetSize`` is the number of nodes
there. Sizes are per zone, as GKE's ``setSize`` and autoscaling limits are. ``setSize`` gives
every zone the same count; a zone's own count is set by resizing its group through Compute
(``instanceGroupManagers.resize``, as the cluster autoscaler does), :func:`set_zone_sizes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from qengine.plugin import CancelToken, InfrastructureError, TransientError
from qengine_gcp.credentials import GcpAccess

_IGM_PREFIX = "/projects/"


@attrs.frozen(kw_only=True)
class PoolSize:
    """A node pool's autoscaling range and its nodes per zone, as GKE holds them: ``per_zone``
    the count of each of its instance groups, ``zones`` the zone of each (the same order;
    empty in sizes saved before zones were, whose counts are then known by position only)."""

    min_nodes: int
    max_nodes: int
    per_zone: tuple[int, ...]
    zones: tuple[str, ...] = ()

    @property
    def nodes(self) -> int:
        """The largest zone's count (what one ``setSize`` gives every zone, none lost)."""
        return max(self.per_zone, default=0)

    def by_zone(self) -> dict[str, int]:
        """Each zone's count; empty when the zones are not known."""
        if len(self.zones) != len(self.per_zone):
            return {}
        return dict(zip(self.zones, self.per_zone, strict=True))

    def describe(self) -> str:
        """``min 1, max 4, nodes per zone europe-west1-b 2, europe-west1-c 1`` (the counts
        alone when the zones are not known)."""
        zones = self.by_zone()
        if zones:
            listed = ", ".join(f"{zone} {count}" for zone, count in zones.items())
        else:
            listed = ", ".join(str(count) for count in self.per_zone) or "none"
        return f"min {self.min_nodes}, max {self.max_nodes}, nodes per zone {listed}"


def container_client(access: GcpAccess) -> Any:
    """A google-cloud-container client (REST) with the job's credentials, at the settings'
    endpoint."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import container_v1

    endpoint = access.settings.container_endpoint
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    return container_v1.ClusterManagerClient(
        credentials=access.credentials(), client_options=options, transport="rest"
    )


def compute_client(access: GcpAccess, kind: str) -> Any:
    """A google-cloud-compute client (REST; ``kind`` names its class in ``compute_v1``) with
    the job's credentials, at the settings' endpoint (the sandbox's stand-in serves Container
    and Compute on one root)."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import compute_v1

    endpoint = access.settings.container_endpoint
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    return getattr(compute_v1, kind)(
        credentials=access.credentials(), client_options=options, transport="rest"
    )


def compute_groups_client(access: GcpAccess) -> Any:
    """A google-cloud-compute instance group managers client at the settings' endpoint."""
    return compute_client(access, "InstanceGroupManagersClient")


def cluster_path(access: GcpAccess, cluster: str) -> str:
    """``projects/P/locations/REGION/clusters/NAME``."""
    provider = access.provider
    return f"projects/{provider.project}/locations/{provider.region}/clusters/{cluster}"


def pool_sizes(access: GcpAccess, cluster: str, names: Iterable[str]) -> dict[str, PoolSize]:
    """The sizes of the named pools that GKE has (a pool it lacks is left out)."""
    from google.api_core import exceptions

    container, groups = container_client(access), compute_groups_client(access)
    sizes: dict[str, PoolSize] = {}
    for name in names:
        path = f"{cluster_path(access, cluster)}/nodePools/{name}"
        with access.call(f"reading the node pool {name}"):
            try:
                pool = container.get_node_pool(name=path)
            except exceptions.NotFound:
                continue
            urls = list(pool.instance_group_urls)
            per_zone = tuple(_group_size(groups, url) for url in urls)
        sizes[name] = PoolSize(
            min_nodes=pool.autoscaling.min_node_count,
            max_nodes=pool.autoscaling.max_node_count,
            per_zone=per_zone,
            zones=tuple(_group_at(url)[1] for url in urls),
        )
    return sizes


def _group_at(url: str) -> tuple[str, str, str]:
    """(project, zone, name) of an instance group manager's URL
    (``.../projects/P/zones/Z/instanceGroupManagers/G``)."""
    parts = url[url.index(_IGM_PREFIX) + 1 :].split("/")
    return parts[1], parts[3], parts[5]


def _group_size(groups: Any, url: str) -> int:
    project, zone, name = _group_at(url)
    group = groups.get(project=project, zone=zone, instance_group_manager=name)
    return int(group.target_size)


def set_zone_sizes(
    access: GcpAccess, cluster: str, name: str, counts: Mapping[str, int], cancel: CancelToken
) -> None:
    """Resize each of the pool's instance groups whose zone ``counts`` names to that count,
    each resize waited for (its zone operation ``DONE``); the other zones are left."""
    from google.api_core import exceptions

    container, groups = container_client(access), compute_groups_client(access)
    path = f"{cluster_path(access, cluster)}/nodePools/{name}"
    with access.call(f"reading the node pool {name}"):
        try:
            urls = list(container.get_node_pool(name=path).instance_group_urls)
        except exceptions.NotFound:
            return
    for url in urls:
        project, zone, group = _group_at(url)
        if zone not in counts:
            continue
        cancel.raise_if_cancelled()  # each resize is an operation of its own: stop between
        with access.call(f"resizing the node pool {name} to {counts[zone]} nodes in {zone}"):
            operation = groups.resize_unary(
                project=project, zone=zone, instance_group_manager=group, size=counts[zone]
            )
        _wait_for_zone(access, project, zone, operation, cancel)


def _wait_for_zone(
    access: GcpAccess, project: str, zone: str, operation: Any, cancel: CancelToken
) -> None:
    """Poll a Compute zone operation until it is DONE (the settings' poll policy); its error,
    if any, is raised."""
    from google.cloud import compute_v1

    operations = compute_client(access, "ZoneOperationsClient")
    current = [operation]

    def done() -> None:
        if current[0].status == compute_v1.Operation.Status.DONE:
            return
        with access.call(f"reading the Compute operation {operation.name}"):
            current[0] = operations.get(project=project, zone=zone, operation=operation.name)
        if current[0].status != compute_v1.Operation.Status.DONE:
            raise OperationPending(
                f"the Compute operation {operation.name} is still {current[0].status.name}",
                hint="It goes on in Compute: run the job again once it is done.",
                retry_after=access.settings.poll_interval,
            )

    access.settings.poll.call(done, cancel=cancel)
    errors = [e.message for e in current[0].error.errors] if current[0].error else []
    if errors:
        raise InfrastructureError(f"Compute operation {operation.name} failed: {'; '.join(errors)}")


class OperationPending(TransientError):
    """A GKE operation is not done yet (retried by the plugin's poll policy)."""


def set_size(access: GcpAccess, cluster: str, name: str, nodes: int, cancel: CancelToken) -> None:
    """``setSize`` of a pool to ``nodes`` per zone, waited for (its operation ``DONE``)."""
    container = container_client(access)
    path = f"{cluster_path(access, cluster)}/nodePools/{name}"
    with access.call(f"resizing the node pool {name} to {nodes} per zone"):
        operation = container.set_node_pool_size(request={"name": path, "node_count": nodes})
    wait_for(access, operation, cancel)


def wait_for(access: GcpAccess, operation: Any, cancel: CancelToken) -> None:
    """Poll a Container operation until it is DONE (the settings' poll policy, which
    ``cancel`` interrupts); its error, if any, is raised."""
    from google.cloud import container_v1

    container = container_client(access)
    provider = access.provider
    name = f"projects/{provider.project}/locations/{provider.region}/operations/{operation.name}"
    current = [operation]

    def done() -> None:
        if current[0].status == container_v1.Operation.Status.DONE:
            return
        with access.call(f"reading the GKE operation {operation.name}"):
            current[0] = container.get_operation(name=name)
        if current[0].status != container_v1.Operation.Status.DONE:
            raise OperationPending(
                f"the GKE operation {operation.name} is still {current[0].status.name}",
                hint="It goes on in GKE: run the job again once it is done.",
                retry_after=access.settings.poll_interval,
            )

    access.settings.poll.call(done, cancel=cancel)
    error = current[0].error
    if error and error.message:
        raise InfrastructureError(f"GKE operation {operation.name} failed: {error.message}")
