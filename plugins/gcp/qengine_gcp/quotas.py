"""Preflight against Compute: the region is up, the zones are its own, every pool's machine
type is offered in every zone, and the regional quotas in force leave room for the nodes a
create starts with (CPUs, spot CPUs, boot disks, external addresses), refusing with the
quota's name before anything changes.

The count is the nodes the apply makes at once (``initial_nodes`` per zone, ``min_nodes``
when not given); what the autoscaler may add later up to ``max_nodes`` is reported, not
refused. Spot VMs draw on ``PREEMPTIBLE_CPUS`` when the project has that quota, on ``CPUS``
otherwise (Compute's rule). ``pd-standard`` disks count toward ``DISKS_TOTAL_GB``, the SSD
kinds toward ``SSD_TOTAL_GB``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from qengine.plugin import InvalidInputError, QuotaError
from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import provider_of
from qengine_gcp.catalog import DEFAULT_ZONE_COUNT
from qengine_gcp.checks import BASE
from qengine_gcp.credentials import GcpAccess


def _client(access: GcpAccess, kind: str) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.cloud import compute_v1

    endpoint = access.settings.container_endpoint
    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    return getattr(compute_v1, kind)(
        credentials=access.credentials(), client_options=options, transport="rest"
    )


Quotas = dict[str, tuple[float, float]]


def _region(access: GcpAccess, job: InfrastructureJob) -> tuple[list[str], Quotas]:
    """The cluster's zones (the job's, or the first three of the region) and the region's
    quotas as ``metric: (limit, usage)``."""
    provider = provider_of(job)
    with access.call(f"reading the region {provider.region}"):
        region = _client(access, "RegionsClient").get(
            project=provider.project, region=provider.region
        )
    if region.status != "UP":
        raise InvalidInputError(
            f"{BASE}.region: {provider.region} is {region.status or 'not up'}",
            hint="Choose a region that is up.",
        )
    offered = [url.rsplit("/", 1)[-1] for url in region.zones]
    for index, zone in enumerate(provider.zones):
        if zone not in offered:
            raise InvalidInputError(
                f"{BASE}.zones[{index}]: {zone} is not offered to the project",
                hint=f"Zones of {provider.region}: {', '.join(offered)}.",
            )
    quotas = {quota.metric: (quota.limit, quota.usage) for quota in region.quotas}
    return list(provider.zones) or sorted(offered)[:DEFAULT_ZONE_COUNT], quotas


def _cpus(access: GcpAccess, job: InfrastructureJob, zones: list[str]) -> dict[str, int]:
    from google.api_core import exceptions

    provider = provider_of(job)
    client = _client(access, "MachineTypesClient")
    cpus: dict[str, int] = {}
    for index, pool in enumerate(provider.node_pools):
        for zone in zones:
            with access.call(f"reading the machine type {pool.machine_type} in {zone}"):
                try:
                    found = client.get(
                        project=provider.project, zone=zone, machine_type=pool.machine_type
                    )
                except exceptions.NotFound:
                    raise InvalidInputError(
                        f"{BASE}.node_pools[{index}].machine_type: {pool.machine_type} is not "
                        f"offered in {zone}",
                        hint="Choose a machine type every zone of the cluster offers, or other "
                        "zones.",
                    ) from None
            cpus[pool.name] = int(found.guest_cpus)
    return cpus


def check_room_for_cluster(access: GcpAccess, job: InfrastructureJob) -> str:
    """Raise unless the region, zones, machine types and quotas allow the create; a summary
    of what it needs."""
    provider = provider_of(job)
    zones, quotas = _region(access, job)
    cpus = _cpus(access, job, zones)
    spot_quota = quotas.get("PREEMPTIBLE_CPUS", (0.0, 0.0))[0] > 0
    needed: Counter[str] = Counter()
    most: Counter[str] = Counter()
    for pool in provider.node_pools:
        start = pool.min_nodes if pool.initial_nodes is None else pool.initial_nodes
        for count, into in ((start * len(zones), needed), (pool.max_nodes * len(zones), most)):
            cpu = "PREEMPTIBLE_CPUS" if pool.spot and spot_quota else "CPUS"
            into[cpu] += count * cpus[pool.name]
            disk = "DISKS_TOTAL_GB" if pool.disk_type == "pd-standard" else "SSD_TOTAL_GB"
            into[disk] += count * pool.disk_size_gb
            if not provider.private_nodes:
                into["IN_USE_ADDRESSES"] += count
    for metric, amount in sorted(needed.items()):
        if metric not in quotas or amount == 0:
            continue
        limit, usage = quotas[metric]
        if usage + amount > limit:
            raise QuotaError(
                f"quota {metric} in {provider.region}: the cluster's first nodes need "
                f"{amount:g}, and {max(limit - usage, 0):g} of {limit:g} are free",
                hint=f"Ask for more {metric} in {provider.region} (IAM & Admin, Quotas), or "
                "start with fewer or smaller nodes.",
            )
    tight = [
        metric
        for metric, amount in sorted(most.items())
        if metric in quotas and quotas[metric][1] + amount > quotas[metric][0]
    ]
    summary = f"quotas in {provider.region} leave room for the first nodes ({', '.join(zones)})"
    if tight:
        summary += f"; at their maximum the pools would exceed {', '.join(tight)}"
    return summary
