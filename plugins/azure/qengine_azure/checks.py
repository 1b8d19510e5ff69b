"""Checks of an Azure infrastructure job that need no network (``qengine validate`` runs them).

Each issue names the spec path of the value at fault; docs/azure.md lists every rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping

from qengine.plugin import SpecIssue
from qengine.spec import InfrastructureJob, Job
from qengine_azure import catalog
from qengine_azure.network import ipv4, is_private, nodes_fitting_pods, nodes_fitting_subnet
from qengine_azure.spec import (
    AcrRegistry,
    AksNodePool,
    AzureDns,
    AzureIdentity,
    AzureProvider,
    AzureStateStorage,
)

BASE = "$.cluster.provider"
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_VM_SIZE = re.compile(r"Standard_[A-Z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
_POOL_NAME = re.compile(r"[a-z][a-z0-9]{0,11}")
_RESOURCE_GROUP = re.compile(r"[\w.()-]{0,89}[\w()-]")
_STORAGE_ACCOUNT = re.compile(r"[a-z0-9]{3,24}")
_CONTAINER = re.compile(r"(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*")
_REGISTRY_NAME = re.compile(r"[A-Za-z0-9]{5,50}")
#: ACR's DNS suffixes: Azure public cloud, Azure China (21Vianet), Azure US Government.
ACR_SUFFIXES = ("azurecr.io", "azurecr.cn", "azurecr.us")
#: The hash ACR appends to a registry created with a domain name label scope
#: (``--dnl-scope`` other than ``Unsecure``): ``<name>-<hash>.azurecr.io``, the dash being the
#: delineator (no dash is allowed in a name). Its documented example,
#: ``contosoacrregistry-e7ggejfuhzhgedc8.azurecr.io``, is 16 lower-case letters and digits.
_DNL_HASH = r"[a-z0-9]{16}"
_REPOSITORY_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY_PREFIX = re.compile(rf"{_REPOSITORY_PART}(?:/{_REPOSITORY_PART})*")
_TAG_KEY_FORBIDDEN = re.compile(r"[<>%&\\?/]")
_PRIVATE = ", ".join(str(block) for block in catalog.PRIVATE_BLOCKS)


def check_job(job: Job) -> list[SpecIssue]:
    """Issues of a job's Azure sections: an Azure DNS section or an ACR registry in any job,
    an AKS cluster."""
    issues = list(_check_dns(job.dns)) if isinstance(job.dns, AzureDns) else []
    if isinstance(job.registry, AcrRegistry):
        issues += _check_acr(job.registry)
    if not isinstance(job, InfrastructureJob) or not isinstance(
        job.cluster.provider, AzureProvider
    ):
        return issues
    provider = job.cluster.provider
    issues += _check_cluster(job, provider)
    issues += _check_identity(provider)
    issues += _check_location(provider)
    issues += _check_network(provider)
    issues += _check_node_pools(provider)
    issues += _check_api_server(provider)
    issues += _check_state(provider.state)
    issues += _check_tags(provider.tags)
    return issues


def _check_cluster(job: InfrastructureJob, provider: AzureProvider) -> Iterator[SpecIssue]:
    if job.cluster.addons.autoscaler is not None:
        yield SpecIssue(
            "$.cluster.addons.autoscaler",
            "AKS autoscales each node pool itself between its min_count and max_count: remove "
            "this field (set min_count equal to max_count for a fixed size)",
        )
    dns_kind = getattr(job.dns, "kind", None)
    if job.cluster.addons.acme_challenge == "dns01" and dns_kind not in (None, "azure-dns"):
        yield SpecIssue(
            "$.cluster.addons.acme_challenge",
            f"is dns01 with a {dns_kind} zone: on AKS, cert-manager gets an identity (workload "
            "identity) for an azure-dns zone only",
        )
    if job.cluster.kubernetes_version not in catalog.AKS_VERSIONS:
        yield SpecIssue(
            "$.cluster.kubernetes_version",
            f"AKS does not offer Kubernetes {job.cluster.kubernetes_version} "
            f"(offered: {', '.join(catalog.AKS_VERSIONS)})",
        )
    group = provider.resource_group.name
    if not _RESOURCE_GROUP.fullmatch(group):
        yield SpecIssue(
            f"{BASE}.resource_group.name",
            "must be a resource group name: 1 to 90 letters, digits, _ - . ( ), not ending "
            "with a period",
        )
    node_group = f"MC_{group}_{job.cluster.name}_{provider.location}"
    if len(node_group) > catalog.MAX_NODE_RESOURCE_GROUP:
        yield SpecIssue(
            "$.cluster.name",
            f"AKS's node resource group {node_group!r} would be longer than "
            f"{catalog.MAX_NODE_RESOURCE_GROUP} characters: shorten the cluster or resource "
            "group name",
        )


def _check_dns(dns: AzureDns) -> Iterator[SpecIssue]:
    yield from _check_identity(dns, "$.dns")
    if not _RESOURCE_GROUP.fullmatch(dns.resource_group):
        yield SpecIssue("$.dns.resource_group", "must be a resource group name")


def _check_acr(registry: AcrRegistry) -> Iterator[SpecIssue]:
    base = "$.registry"
    yield from _check_identity(registry, base)
    if not _REGISTRY_NAME.fullmatch(registry.name):
        yield SpecIssue(
            f"{base}.name", "must be a registry name: 5 to 50 letters and digits (no - or _)"
        )
    elif registry.login_server is not None and not _is_login_server(
        registry.name, registry.login_server
    ):
        name = registry.name.lower()
        wanted = [f"{name}.{suffix}" for suffix in ACR_SUFFIXES]
        yield SpecIssue(
            f"{base}.login_server",
            f"must be the registry's login server: {' or '.join(wanted)}, or with its domain "
            f"name label hash, {name}-<16 lower-case letters and digits>.azurecr.io (.cn, .us)",
        )
    prefix = registry.repository_prefix
    if prefix and not _REPOSITORY_PREFIX.fullmatch(prefix):
        yield SpecIssue(
            f"{base}.repository_prefix",
            "must be a repository path: lower-case letters and digits, parts joined by . _ - "
            "and separated by /",
        )


def _is_login_server(name: str, login_server: str) -> bool:
    """Whether ``login_server`` is registry ``name``'s, with or without a domain name label
    hash, in one of ACR's clouds (host names are compared case-insensitively)."""
    suffixes = "|".join(re.escape(suffix) for suffix in ACR_SUFFIXES)
    pattern = rf"{re.escape(name.lower())}(?:-{_DNL_HASH})?\.(?:{suffixes})"
    return re.fullmatch(pattern, login_server.lower()) is not None


def _check_identity(provider: AzureIdentity, base: str = BASE) -> Iterator[SpecIssue]:
    for name in ("subscription_id", "tenant_id", "client_id"):
        value = getattr(provider, name, None)  # an acr section has no subscription
        if value is not None and not _UUID.fullmatch(value):
            yield SpecIssue(
                f"{base}.{name}", "must be a GUID: 00000000-0000-0000-0000-000000000000"
            )
    given = [
        name
        for name in ("client_secret", "client_certificate", "client_assertion")
        if getattr(provider, name) is not None
    ] + (["workload_identity"] if provider.workload_identity else [])
    if not given:
        yield SpecIssue(
            f"{base}.client_secret",
            "give one credential: client_secret, client_certificate or client_assertion (each a "
            '{"secret": ...} reference), or workload_identity: true',
        )
    elif len(given) > 1:
        yield SpecIssue(
            f"{base}.{given[1]}", f"give one credential only (also given: {', '.join(given)})"
        )


def _check_location(provider: AzureProvider) -> Iterator[SpecIssue]:
    if provider.location not in catalog.REGIONS:
        yield SpecIssue(
            f"{BASE}.location",
            f"is not an Azure region name such as westeurope: {provider.location!r}",
        )


def _check_network(provider: AzureProvider) -> Iterator[SpecIssue]:
    ranges = provider.network
    limits = {
        "vnet": (8, catalog.MAX_SUBNET_PREFIX),
        "nodes": (8, catalog.MAX_SUBNET_PREFIX),
        "pods": (8, catalog.POD_PREFIX_PER_NODE),
        "services": (catalog.MIN_SERVICES_PREFIX, catalog.MAX_SUBNET_PREFIX),
    }
    found: dict[str, ipaddress.IPv4Network] = {}
    for name, (low, high) in limits.items():
        path = f"{BASE}.network.{name}"
        network = ipv4(getattr(ranges, name))
        if network is None or not low <= network.prefixlen <= high:
            yield SpecIssue(path, f"must be an IPv4 network from /{low} to /{high}")
        elif not is_private(network):
            yield SpecIssue(path, f"must lie in a private range ({_PRIVATE})")
        else:
            reserved = [str(r) for r in catalog.RESERVED_RANGES if network.overlaps(r)]
            if reserved:
                yield SpecIssue(path, f"overlaps {reserved[0]}, a range AKS reserves")
            else:
                found[name] = network
    yield from _check_overlaps(found)
    yield from _check_dns_service_ip(ranges.dns_service_ip, found.get("services"))
    yield from _check_capacity(provider, found)


def _check_overlaps(found: dict[str, ipaddress.IPv4Network]) -> Iterator[SpecIssue]:
    vnet, nodes = found.get("vnet"), found.get("nodes")
    if vnet is not None and nodes is not None and not nodes.subnet_of(vnet):
        yield SpecIssue(f"{BASE}.network.nodes", f"must lie inside network.vnet ({vnet})")
    for name in ("pods", "services"):
        mine = found.get(name)
        others = ("vnet", "pods") if name == "services" else ("vnet",)
        for other in others:
            theirs = found.get(other)
            if mine is not None and theirs is not None and mine.overlaps(theirs):
                yield SpecIssue(
                    f"{BASE}.network.{name}",
                    f"overlaps network.{other} ({theirs}): every range needs its own addresses",
                )


def _check_dns_service_ip(
    value: str, services: ipaddress.IPv4Network | None
) -> Iterator[SpecIssue]:
    path = f"{BASE}.network.dns_service_ip"
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        yield SpecIssue(path, f"must be an IPv4 address: {value!r}")
        return
    if services is None:
        return
    # Not list(services.hosts()): that is an object per address, 65,536 for a /16.
    first, last = services.network_address, services.broadcast_address
    host = address in services if services.prefixlen >= 31 else first < address < last
    if address not in services:
        yield SpecIssue(path, f"must lie inside network.services ({services})")
    elif not host or address == first + 1:
        yield SpecIssue(
            path,
            "must not be the first, second or last address of network.services (the first "
            "host is the kubernetes Service's)",
        )


def _check_capacity(
    provider: AzureProvider, found: dict[str, ipaddress.IPv4Network]
) -> Iterator[SpecIssue]:
    most = sum(pool.max_count for pool in provider.node_pools)
    nodes, pods = found.get("nodes"), found.get("pods")
    if nodes is not None and most > nodes_fitting_subnet(nodes):
        yield SpecIssue(
            f"{BASE}.network.nodes",
            f"has {nodes_fitting_subnet(nodes)} node addresses; the node pools may grow to "
            f"{most} nodes",
        )
    if pods is not None and most > nodes_fitting_pods(pods):
        yield SpecIssue(
            f"{BASE}.network.pods",
            f"serves {nodes_fitting_pods(pods)} nodes (a /24 each); the node pools may grow "
            f"to {most}",
        )


def _check_node_pools(provider: AzureProvider) -> Iterator[SpecIssue]:
    pools = provider.node_pools
    if not pools:
        yield SpecIssue(f"{BASE}.node_pools", "needs at least one node pool (a System pool)")
        return
    if len(pools) > catalog.MAX_NODE_POOLS:
        yield SpecIssue(f"{BASE}.node_pools", f"AKS allows at most {catalog.MAX_NODE_POOLS}")
    if pools[0].mode != "System":
        yield SpecIssue(
            f"{BASE}.node_pools[0].mode", "the first node pool is AKS's default: it must be System"
        )
    total = sum(pool.max_count for pool in pools)
    if total > catalog.MAX_NODES_PER_CLUSTER:
        yield SpecIssue(
            f"{BASE}.node_pools",
            f"may grow to {total} nodes; AKS allows {catalog.MAX_NODES_PER_CLUSTER} per cluster",
        )
    names = [pool.name for pool in pools]
    for index, pool in enumerate(pools):
        path = f"{BASE}.node_pools[{index}]"
        if pool.name in names[:index]:
            yield SpecIssue(f"{path}.name", f"duplicates {pool.name!r}")
        yield from _check_node_pool(pool, path)


def _check_node_pool(pool: AksNodePool, path: str) -> Iterator[SpecIssue]:
    if not _POOL_NAME.fullmatch(pool.name):
        yield SpecIssue(
            f"{path}.name",
            "must be 1 to 12 lower-case letters and digits, starting with a letter (AKS's "
            "Linux node pool names)",
        )
    if not _VM_SIZE.fullmatch(pool.vm_size):
        yield SpecIssue(
            f"{path}.vm_size", f"is not an Azure VM size such as Standard_D4s_v5: {pool.vm_size!r}"
        )
    yield from _check_pool_sizes(pool, path)
    if pool.spot and pool.mode == "System":
        yield SpecIssue(f"{path}.spot", "System node pools cannot run on Spot VMs")
    for index, zone in enumerate(pool.zones):
        if zone not in catalog.ZONES:
            yield SpecIssue(f"{path}.zones[{index}]", f"must be one of {', '.join(catalog.ZONES)}")
        elif zone in pool.zones[:index]:
            yield SpecIssue(f"{path}.zones[{index}]", f"duplicates {zone!r}")
    if not catalog.MIN_OS_DISK_GB <= pool.os_disk_size_gb <= catalog.MAX_OS_DISK_GB:
        yield SpecIssue(
            f"{path}.os_disk_size_gb",
            f"must be from {catalog.MIN_OS_DISK_GB} to {catalog.MAX_OS_DISK_GB}",
        )
    if not catalog.MIN_PODS_PER_NODE <= pool.max_pods <= catalog.MAX_PODS_PER_NODE:
        yield SpecIssue(
            f"{path}.max_pods",
            f"must be from {catalog.MIN_PODS_PER_NODE} to {catalog.MAX_PODS_PER_NODE}",
        )


def _check_pool_sizes(pool: AksNodePool, path: str) -> Iterator[SpecIssue]:
    lowest = 1 if pool.mode == "System" else 0
    if pool.min_count < lowest:
        yield SpecIssue(
            f"{path}.min_count",
            "a System pool keeps at least 1 node" if lowest else "must not be negative",
        )
    if pool.max_count < max(pool.min_count, 1):
        yield SpecIssue(f"{path}.max_count", "must be at least 1 and not below min_count")
    if pool.max_count > catalog.MAX_NODES_PER_POOL:
        yield SpecIssue(
            f"{path}.max_count", f"AKS allows at most {catalog.MAX_NODES_PER_POOL} nodes per pool"
        )
    if pool.count is not None and not pool.min_count <= pool.count <= pool.max_count:
        yield SpecIssue(f"{path}.count", "must be between min_count and max_count")


def _check_api_server(provider: AzureProvider) -> Iterator[SpecIssue]:
    ranges = provider.authorized_ip_ranges
    path = f"{BASE}.authorized_ip_ranges"
    if ranges and provider.private_cluster:
        yield SpecIssue(path, "a private cluster has no public endpoint to restrict")
    if len(ranges) > catalog.MAX_AUTHORIZED_IP_RANGES:
        yield SpecIssue(path, f"AKS allows at most {catalog.MAX_AUTHORIZED_IP_RANGES} ranges")
    for index, value in enumerate(ranges):
        network = ipv4(value)
        if network is None:
            yield SpecIssue(f"{path}[{index}]", "must be an IPv4 network")
        elif network.prefixlen == 0:
            yield SpecIssue(
                f"{path}[{index}]",
                "opens the API server to every address: list the networks that need it, or "
                "leave the list empty",
            )
        elif is_private(network) or network.is_loopback or network.is_link_local:
            yield SpecIssue(
                f"{path}[{index}]",
                "is a private range: the public API server only sees public addresses",
            )
        elif value in ranges[:index]:
            yield SpecIssue(f"{path}[{index}]", f"duplicates {value!r}")


def _check_state(state: AzureStateStorage) -> Iterator[SpecIssue]:
    path = f"{BASE}.state"
    account = state.storage_account
    if account is not None and not _STORAGE_ACCOUNT.fullmatch(account):
        yield SpecIssue(
            f"{path}.storage_account",
            "must be a storage account name: 3 to 24 lower-case letters and digits",
        )
    if not _CONTAINER.fullmatch(state.container):
        yield SpecIssue(
            f"{path}.container",
            "must be a blob container name: 3 to 63 lower-case letters, digits and single "
            "hyphens, starting and ending with a letter or digit",
        )
    group = state.resource_group
    if group is not None and not _RESOURCE_GROUP.fullmatch(group):
        yield SpecIssue(f"{path}.resource_group", "must be a resource group name")


def _check_tags(tags: Mapping[str, str]) -> Iterator[SpecIssue]:
    if len(tags) > catalog.MAX_TAGS:
        yield SpecIssue(f"{BASE}.tags", f"Azure allows at most {catalog.MAX_TAGS} tags")
    for key, value in tags.items():
        path = f"{BASE}.tags.{key}"
        if not key or len(key) > catalog.MAX_TAG_KEY or _TAG_KEY_FORBIDDEN.search(key):
            yield SpecIssue(
                path,
                f"tag names are 1 to {catalog.MAX_TAG_KEY} characters without < > % & \\ ? /",
            )
        elif len(value) > catalog.MAX_TAG_VALUE:
            yield SpecIssue(path, f"tag values are at most {catalog.MAX_TAG_VALUE} characters")
        elif "${" in key + value or "%{" in key + value:
            # Terraform's JSON syntax evaluates ${...} and %{...} in the module qengine applies
            # and exports: a tag must never become template code.
            yield SpecIssue(path, "tags may not contain the Terraform template sequences ${ or %{")
