"""Preflight of a new AKS cluster, before anything changes: the node pools' VM sizes offered
to the subscription in the region (and in the zones asked for), and the region's vCPU quotas.

Through azure-mgmt-compute: ``resource_skus.list`` (filtered by location) and
``usage.list``. A size that is not offered, restricted for the subscription, or not in a zone
the pool names, is refused naming the pool; a quota the new nodes do not fit in is refused
naming the quota (``standardDSv5Family``, ``cores``, ``lowPriorityCores``) with what is used,
what the limit is and what the cluster needs. The initial node counts must fit; the room to
autoscale to every pool's maximum is only reported, since Azure checks it when nodes are
added.

A new cluster's outbound load balancer takes one Standard public IP address: the Network
provider's regional usage ``StandardSkuPublicIpAddresses`` must have room for it (read through
the Compute client's pipeline with ``send_request``: no Network SDK is needed for one GET).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from qengine.plugin import InvalidInputError, QuotaError
from qengine_azure.credentials import AzureAccess
from qengine_azure.spec import AksNodePool, AzureProvider

if TYPE_CHECKING:
    from azure.mgmt.compute import ComputeManagementClient

Progress = Callable[[str], None]
#: The quotas of Spot VMs and of all VMs in a region.
SPOT_QUOTA = "lowPriorityCores"
TOTAL_QUOTA = "cores"
#: The Network quota of Standard public IP addresses; a new cluster's load balancer takes one.
PUBLIC_IP_QUOTA = "StandardSkuPublicIpAddresses"
NETWORK_API = "2024-05-01"


@attrs.frozen(kw_only=True)
class VmSize:
    """What preflight needs of a VM size in one region."""

    name: str
    family: str
    vcpus: int
    zones: frozenset[str]
    restricted: bool


@attrs.frozen(kw_only=True)
class Quota:
    """One regional quota: its name, what is used and the limit."""

    name: str
    label: str
    current: int
    limit: int


def _client(access: AzureAccess) -> ComputeManagementClient:
    from azure.mgmt.compute import ComputeManagementClient

    return ComputeManagementClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=access.settings.arm_endpoint,
        credential_scopes=[access.settings.arm_scope],
        **access.client_options(),
    )


def _vcpus(sku: Any) -> int:
    for capability in sku.capabilities or ():
        if capability.name == "vCPUs":
            return int(capability.value)
    return 0


def _zones(sku: Any, location: str) -> frozenset[str]:
    for info in sku.location_info or ():
        if (info.location or "").lower() == location:
            return frozenset(info.zones or ())
    return frozenset()


def _restricted(sku: Any, location: str) -> bool:
    return any(
        restriction.type == "Location" and location in [v.lower() for v in restriction.values]
        for restriction in sku.restrictions or ()
    )


def vm_sizes(access: AzureAccess) -> dict[str, VmSize]:
    """The VM sizes of the job's region, by name."""
    location = access.provider.location
    found: dict[str, VmSize] = {}
    for sku in _client(access).resource_skus.list(filter=f"location eq '{location}'"):
        if sku.resource_type != "virtualMachines" or not sku.name:
            continue
        found[sku.name] = VmSize(
            name=sku.name,
            family=sku.family or "",
            vcpus=_vcpus(sku),
            zones=_zones(sku, location),
            restricted=_restricted(sku, location),
        )
    return found


def quotas(access: AzureAccess) -> dict[str, Quota]:
    """The region's compute quotas, by name."""
    found: dict[str, Quota] = {}
    for usage in _client(access).usage.list(access.provider.location):
        name = usage.name.value if usage.name is not None else None
        if not name:
            continue
        label = usage.name.localized_value or name if usage.name is not None else name
        found[name] = Quota(
            name=name, label=str(label), current=int(usage.current_value), limit=int(usage.limit)
        )
    return found


def network_quotas(access: AzureAccess) -> dict[str, Quota]:
    """The region's Network quotas, by name (``Microsoft.Network/locations/{l}/usages``)."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    provider = access.provider
    base = access.settings.arm_endpoint.rstrip("/")
    url = (
        f"{base}/subscriptions/{provider.subscription_id}/providers/Microsoft.Network/"
        f"locations/{provider.location}/usages?api-version={NETWORK_API}"
    )
    response = _client(access).send_request(HttpRequest("GET", url))
    try:
        response.raise_for_status()
    except HttpResponseError as exc:
        raise QuotaError(
            f"could not read the Network quotas of {provider.location}: {exc.message}",
            hint="The job's application needs Reader on the subscription.",
        ) from exc
    found: dict[str, Quota] = {}
    for usage in response.json().get("value", []):
        name = usage.get("name", {})
        found[str(name.get("value"))] = Quota(
            name=str(name.get("value")),
            label=str(name.get("localizedValue") or name.get("value")),
            current=int(usage.get("currentValue", 0)),
            limit=int(usage.get("limit", 0)),
        )
    return found


def check_public_ip(provider: AzureProvider, found: dict[str, Quota]) -> None:
    """QuotaError when the region has no room for the load balancer's public IP."""
    quota = found.get(PUBLIC_IP_QUOTA)
    if quota is not None and quota.current + 1 > quota.limit:
        raise QuotaError(
            f"quota {quota.name} ({quota.label}) in {provider.location}: {quota.current} of "
            f"{quota.limit} used, the new cluster's load balancer needs 1",
            hint="Free a Standard public IP address or ask for a higher limit.",
        )


def check_vm_sizes(provider: AzureProvider, sizes: dict[str, VmSize]) -> None:
    """InvalidInputError naming the first pool whose size or zones the region does not
    offer."""
    for index, pool in enumerate(provider.node_pools):
        path = f"$.cluster.provider.node_pools[{index}]"
        size = sizes.get(pool.vm_size)
        if size is None or size.restricted:
            why = "is restricted for this subscription" if size else "is not offered"
            raise InvalidInputError(
                f"{path}.vm_size: {pool.vm_size} {why} in {provider.location}",
                hint="Pick a size `az vm list-skus --location "
                f"{provider.location} --resource-type virtualMachines` lists without "
                "restrictions.",
            )
        missing = sorted(set(pool.zones) - size.zones)
        if missing:
            raise InvalidInputError(
                f"{path}.zones: {pool.vm_size} is not offered in zone(s) {', '.join(missing)} "
                f"of {provider.location} (offered: {', '.join(sorted(size.zones)) or 'none'})",
                hint="Remove those zones from the pool, or pick another size.",
            )


def _initial(pool: AksNodePool) -> int:
    return pool.count if pool.count is not None else max(pool.min_count, 1)


def vcpus_needed(
    pools: Iterable[AksNodePool], sizes: dict[str, VmSize], count: Callable[[AksNodePool], int]
) -> dict[str, int]:
    """vCPUs by quota name for ``count`` nodes of each pool."""
    needed: dict[str, int] = defaultdict(int)
    for pool in pools:
        size = sizes[pool.vm_size]
        vcpus = count(pool) * size.vcpus
        if pool.spot:
            needed[SPOT_QUOTA] += vcpus
        else:
            needed[size.family] += vcpus
            needed[TOTAL_QUOTA] += vcpus
    return dict(needed)


def check_room(
    provider: AzureProvider, sizes: dict[str, VmSize], found: dict[str, Quota]
) -> list[str]:
    """QuotaError naming the first quota the initial nodes do not fit in; returns notes on
    the quotas the pools' maximum sizes would exceed."""
    for name, vcpus in sorted(vcpus_needed(provider.node_pools, sizes, _initial).items()):
        quota = found.get(name)
        if quota is not None and quota.current + vcpus > quota.limit:
            raise QuotaError(
                f"quota {quota.name} ({quota.label}) in {provider.location}: {quota.current} of "
                f"{quota.limit} vCPUs used, the new cluster's nodes need {vcpus}",
                hint="Ask for a higher limit (Azure portal: Quotas, Compute), use a smaller "
                "VM size or fewer nodes, or another region.",
            )
    notes = []
    most = vcpus_needed(provider.node_pools, sizes, lambda pool: pool.max_count)
    for name, vcpus in sorted(most.items()):
        quota = found.get(name)
        if quota is not None and quota.current + vcpus > quota.limit:
            notes.append(
                f"quota {quota.name}: the node pools at their maximum need {vcpus} vCPUs, "
                f"{quota.limit - quota.current} are free: the autoscaler will stop short"
            )
    return notes


def preflight_new_cluster(access: AzureAccess, progress: Progress) -> None:
    """The checks of a cluster about to be created (sizes, zones, quotas)."""
    provider = access.provider
    sizes = vm_sizes(access)
    check_vm_sizes(provider, sizes)
    for note in check_room(provider, sizes, quotas(access)):
        progress(note)
    check_public_ip(provider, network_quotas(access))
    progress(
        f"{provider.location} offers the node pools' VM sizes and zones, the vCPU quotas hold "
        "their initial nodes, and a public IP address is free for the load balancer"
    )
