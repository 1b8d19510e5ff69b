"""Preflight against Compute: the region is up, the zones are its own, every pool's machine
type is offered in every zone, and the quotas in force, the region's and the project's, leave
room for what a create makes, refusing with the quota's name, its limit, its usage and what
the job needs before anything changes.

The count is the nodes the apply makes at once (``initial_nodes`` per zone, ``min_nodes``
when not given); what the autoscaler may add later up to ``max_nodes`` is reported, not
refused. Spot VMs draw on ``PREEMPTIBLE_CPUS`` when the project has that quota, on ``CPUS``
otherwise (Compute's rule). ``pd-standard`` disks count toward ``DISKS_TOTAL_GB``, the SSD
kinds toward ``SSD_TOTAL_GB``. Every pool has a managed instance group in each zone
(``INSTANCE_GROUPS``, ``INSTANCE_GROUP_MANAGERS``, regional).

Project-wide (Compute's ``projects.get``), what the blueprint makes: one VPC (``NETWORKS``),
one subnet (``SUBNETWORKS``), the Cloud Router of private nodes (``ROUTERS``), the firewall
rules GKE adds for every cluster (``-vms`` and ``-all``, and ``-master`` with private nodes:
``FIREWALLS``, a floor, as other GKE versions add more), at least one instance template per
node pool (``INSTANCE_TEMPLATES``), and the vCPUs that draw on ``CPUS`` in the region again
in ``CPUS_ALL_REGIONS``. A cluster that already exists (a converge) is not counted again:
what it holds is in the usage already.
"""

from __future__ import annotations

from collections import Counter

from qengine.plugin import InvalidInputError, QuotaError
from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import provider_of
from qengine_gcp.catalog import DEFAULT_ZONE_COUNT
from qengine_gcp.checks import BASE
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import compute_client, container_client

Quotas = dict[str, tuple[float, float]]


def _refuse(metric: str, where: str, what: str, amount: float, quota: tuple[float, float]) -> None:
    """QuotaError unless ``amount`` more fits in ``quota`` (``(limit, usage)``)."""
    limit, usage = quota
    if amount > 0 and usage + amount > limit:
        raise QuotaError(
            f"quota {metric} in {where}: {what} {amount:g}; its limit is {limit:g}, "
            f"{usage:g} in use, {max(limit - usage, 0):g} free",
            hint=f"Ask for more {metric} in {where} (IAM & Admin, Quotas), or make the "
            "cluster smaller.",
        )


def _project_quotas(access: GcpAccess, project: str) -> Quotas:
    """The project-wide Compute quotas as ``metric: (limit, usage)``."""
    with access.call(f"reading the project {project}'s quotas"):
        found = compute_client(access, "ProjectsClient").get(project=project)
    return {quota.metric: (quota.limit, quota.usage) for quota in found.quotas}


def _cluster_exists(access: GcpAccess, job: InfrastructureJob) -> bool:
    from google.api_core import exceptions

    provider = provider_of(job)
    name = f"projects/{provider.project}/locations/{provider.region}/clusters/{job.cluster.name}"
    with access.call(f"reading the cluster {job.cluster.name}"):
        try:
            container_client(access).get_cluster(name=name)
        except exceptions.NotFound:
            return False
    return True


def project_needs(job: InfrastructureJob, regional_cpus: float) -> Counter[str]:
    """What a create of the job's cluster takes of the project-wide quotas (see the module's
    docstring for why each)."""
    provider = provider_of(job)
    needs: Counter[str] = Counter(NETWORKS=1, SUBNETWORKS=1)
    needs["FIREWALLS"] = 3 if provider.private_nodes else 2
    if provider.private_nodes:
        needs["ROUTERS"] = 1
    needs["INSTANCE_TEMPLATES"] = len(provider.node_pools)
    needs["CPUS_ALL_REGIONS"] = int(regional_cpus)
    return needs


def _region(access: GcpAccess, job: InfrastructureJob) -> tuple[list[str], Quotas]:
    """The cluster's zones (the job's, or the first three of the region) and the region's
    quotas as ``metric: (limit, usage)``."""
    provider = provider_of(job)
    with access.call(f"reading the region {provider.region}"):
        region = compute_client(access, "RegionsClient").get(
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
    client = compute_client(access, "MachineTypesClient")
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
    if _cluster_exists(access, job):
        return (
            f"the cluster {job.cluster.name} exists: what it holds is counted in the quotas already"
        )
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
        # Each pool has one managed instance group per zone, whatever its size.
        for groups in ("INSTANCE_GROUPS", "INSTANCE_GROUP_MANAGERS"):
            needed[groups] += len(zones)
    for metric, amount in sorted(needed.items()):
        if metric in quotas:
            first = "the cluster's first nodes need"
            _refuse(metric, provider.region, first, amount, quotas[metric])
    project = _project_quotas(access, provider.project)
    for metric, amount in sorted(project_needs(job, needed["CPUS"]).items()):
        if metric in project:
            where = f"project {provider.project}"
            _refuse(metric, where, "the cluster needs", amount, project[metric])
    tight = [
        metric
        for metric, amount in sorted(most.items())
        if metric in quotas and quotas[metric][1] + amount > quotas[metric][0]
    ]
    all_regions = project.get("CPUS_ALL_REGIONS")
    if all_regions is not None and all_regions[1] + most["CPUS"] > all_regions[0]:
        tight.append("CPUS_ALL_REGIONS")
    summary = (
        f"quotas in {provider.region} and project {provider.project} leave room for the "
        f"cluster and its first nodes ({', '.join(zones)})"
    )
    if tight:
        summary += f"; at their maximum the pools would exceed {', '.join(tight)}"
    return summary
