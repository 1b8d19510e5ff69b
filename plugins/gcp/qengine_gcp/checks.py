"""Checks of a GCP infrastructure job that need no network (``qengine validate`` runs them).

Each issue names the spec path of the value at fault; docs/gcp.md lists every rule.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping

from qengine.plugin import SpecIssue
from qengine.spec import InfrastructureJob, Job
from qengine_gcp import catalog
from qengine_gcp.network import (
    PRIVATE_BLOCKS,
    is_private,
    nodes_fitting_subnet,
    pod_addresses_per_node,
)
from qengine_gcp.spec import (
    ArtifactRegistry,
    CloudDns,
    GcpIdentity,
    GcpProvider,
    NodePool,
    StateBucket,
    WorkloadIdentityFederation,
)

BASE = "$.cluster.provider"
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_SERVICE_ACCOUNT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.gserviceaccount\.com")
_MACHINE_TYPE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]")
_KMS_KEY = re.compile(
    r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/locations/([a-z0-9-]+)/keyRings/[\w-]{1,63}"
    r"/cryptoKeys/[\w-]{1,63}"
)
_AUDIENCE = re.compile(
    r"//iam\.googleapis\.com/projects/[0-9]{1,20}/locations/global/workloadIdentityPools/"
    r"[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}"
)
_TOKEN_TYPES = frozenset(
    {
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:id_token",
        "urn:ietf:params:oauth:token-type:saml2",
    }
)
_REPOSITORY = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MANAGED_ZONE = re.compile(r"[a-z][a-z0-9-]{0,62}")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_MAX_LABELS = 64
_PRIVATE = ", ".join(str(block) for block in PRIVATE_BLOCKS)


def check_job(job: Job) -> list[SpecIssue]:
    """Issues of a job's GCP sections: a Cloud DNS section in any job, a GCP cluster."""
    issues = list(_check_dns(job.dns)) if isinstance(job.dns, CloudDns) else []
    if isinstance(job.registry, ArtifactRegistry):
        issues += _check_registry(job.registry)
    if not isinstance(job, InfrastructureJob) or not isinstance(job.cluster.provider, GcpProvider):
        return issues
    provider = job.cluster.provider
    issues += _check_cluster(job)
    issues += _check_identity(provider)
    issues += _check_location(provider)
    issues += _check_network(provider)
    issues += _check_node_pools(provider)
    issues += _check_endpoint(provider)
    issues += _check_state(provider.state, provider.region)
    issues += _check_labels(provider.labels)
    return issues


def zone_count(provider: GcpProvider) -> int:
    """How many zones the nodes spread over (GKE's default when none are named)."""
    return len(provider.zones) or catalog.DEFAULT_ZONE_COUNT


def _check_cluster(job: InfrastructureJob) -> Iterator[SpecIssue]:
    if job.cluster.addons.autoscaler is not None:
        yield SpecIssue(
            "$.cluster.addons.autoscaler",
            "GKE autoscales each node pool itself between its min_nodes and max_nodes: remove "
            "this field (set min_nodes equal to max_nodes for a fixed size)",
        )
    dns_kind = getattr(job.dns, "kind", None)
    if job.cluster.addons.acme_challenge == "dns01" and dns_kind not in (None, "cloud-dns"):
        yield SpecIssue(
            "$.cluster.addons.acme_challenge",
            f"is dns01 with a {dns_kind} zone: on GKE, cert-manager gets an identity (workload "
            "identity) for a cloud-dns zone only",
        )
    if len(job.cluster.name) > catalog.MAX_CLUSTER_NAME:
        yield SpecIssue(
            "$.cluster.name", f"GKE cluster names are at most {catalog.MAX_CLUSTER_NAME} characters"
        )
    if job.cluster.kubernetes_version not in catalog.GKE_VERSIONS:
        yield SpecIssue(
            "$.cluster.kubernetes_version",
            f"GKE does not offer Kubernetes {job.cluster.kubernetes_version} "
            f"(offered: {', '.join(catalog.GKE_VERSIONS)})",
        )


def _check_dns(dns: CloudDns) -> Iterator[SpecIssue]:
    yield from _check_identity(dns, "$.dns")
    if dns.managed_zone is not None and not _MANAGED_ZONE.fullmatch(dns.managed_zone):
        yield SpecIssue(
            "$.dns.managed_zone",
            "must be a managed zone's name: 1 to 63 lower-case letters, digits and hyphens, "
            "starting with a letter",
        )


def _check_registry(registry: ArtifactRegistry) -> Iterator[SpecIssue]:
    yield from _check_identity(registry, "$.registry")
    location = registry.location
    if location not in catalog.REGIONS and location not in ("us", "europe", "asia"):
        yield SpecIssue(
            "$.registry.location",
            f"is not an Artifact Registry location (a region, us, europe or asia): {location!r}",
        )
    if not _REPOSITORY.fullmatch(registry.repository):
        yield SpecIssue(
            "$.registry.repository",
            "must be a repository id: lower-case letters, digits and hyphens, starting with a "
            "letter and ending with a letter or digit, at most 63",
        )


def _check_identity(provider: GcpIdentity, base: str = BASE) -> Iterator[SpecIssue]:
    if not _PROJECT.fullmatch(provider.project):
        yield SpecIssue(
            f"{base}.project",
            "must be a project id: 6 to 30 lower-case letters, digits and hyphens, starting "
            "with a letter",
        )
    if provider.service_account is None and provider.workload_identity is None:
        yield SpecIssue(
            f"{base}.service_account",
            "name the service account to impersonate (or give workload_identity): the engine "
            "uses short-lived credentials only",
        )
    if provider.service_account is not None and not _SERVICE_ACCOUNT.fullmatch(
        provider.service_account
    ):
        yield SpecIssue(
            f"{base}.service_account",
            "must be a service account e-mail: name@project.iam.gserviceaccount.com",
        )
    for index, delegate in enumerate(provider.delegates):
        if not _SERVICE_ACCOUNT.fullmatch(delegate):
            yield SpecIssue(f"{base}.delegates[{index}]", "must be a service account e-mail")
    if provider.delegates and provider.service_account is None:
        yield SpecIssue(f"{base}.delegates", "delegates need a service_account to impersonate")
    if provider.workload_identity is not None:
        yield from _check_federation(provider.workload_identity, f"{base}.workload_identity")


def _check_federation(federation: WorkloadIdentityFederation, path: str) -> Iterator[SpecIssue]:
    if not _AUDIENCE.fullmatch(federation.audience):
        yield SpecIssue(
            f"{path}.audience",
            "must be a workload identity pool provider: //iam.googleapis.com/projects/NUMBER/"
            "locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
        )
    if federation.subject_token_type not in _TOKEN_TYPES:
        yield SpecIssue(
            f"{path}.subject_token_type", f"must be one of {', '.join(sorted(_TOKEN_TYPES))}"
        )


def _check_location(provider: GcpProvider) -> Iterator[SpecIssue]:
    if provider.region not in catalog.REGIONS:
        yield SpecIssue(f"{BASE}.region", f"is not a Google Cloud region: {provider.region!r}")
        return
    zone = re.compile(rf"{re.escape(provider.region)}-[a-z]")
    for index, name in enumerate(provider.zones):
        if not zone.fullmatch(name):
            yield SpecIssue(
                f"{BASE}.zones[{index}]", f"is not a zone of {provider.region}: {name!r}"
            )
        elif name in provider.zones[:index]:
            yield SpecIssue(f"{BASE}.zones[{index}]", f"duplicates {name!r}")


def _ipv4(value: str) -> ipaddress.IPv4Network | None:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return None
    return network if isinstance(network, ipaddress.IPv4Network) else None


def _check_network(provider: GcpProvider) -> Iterator[SpecIssue]:
    ranges = provider.network
    limits = {
        "nodes": catalog.NODES_PREFIX,
        "pods": catalog.PODS_PREFIX,
        "services": catalog.SERVICES_PREFIX,
        "control_plane": catalog.CONTROL_PLANE_PREFIX,
    }
    found: dict[str, ipaddress.IPv4Network] = {}
    for name, (low, high) in limits.items():
        path = f"{BASE}.network.{name}"
        network = _ipv4(getattr(ranges, name))
        size = f"/{low}" if low == high else f"from /{low} to /{high}"
        if network is None or not low <= network.prefixlen <= high:
            yield SpecIssue(path, f"must be an IPv4 network {size} (GKE's limits)")
        elif not is_private(network):
            yield SpecIssue(path, f"must lie in a private range ({_PRIVATE})")
        else:
            found[name] = network
    names = list(found)
    for index, name in enumerate(names):
        for other in names[:index]:
            if found[name].overlaps(found[other]):
                yield SpecIssue(
                    f"{BASE}.network.{name}",
                    f"overlaps network.{other} ({found[other]}): every range needs its own "
                    "addresses",
                )
    yield from _check_capacity(provider, found)


def _check_capacity(
    provider: GcpProvider, found: dict[str, ipaddress.IPv4Network]
) -> Iterator[SpecIssue]:
    zones = zone_count(provider)
    most = sum(pool.max_nodes * zones for pool in provider.node_pools)
    nodes = found.get("nodes")
    if nodes is not None and most > nodes_fitting_subnet(nodes):
        yield SpecIssue(
            f"{BASE}.network.nodes",
            f"has {nodes_fitting_subnet(nodes)} node addresses; the node pools may grow to "
            f"{most} nodes ({zones} zones)",
        )
    pods = found.get("pods")
    if pods is None:
        return
    needed = sum(
        pool.max_nodes * zones * pod_addresses_per_node(pool.max_pods_per_node)
        for pool in provider.node_pools
        if catalog.MIN_PODS_PER_NODE <= pool.max_pods_per_node <= catalog.MAX_PODS_PER_NODE
    )
    if needed > pods.num_addresses:
        yield SpecIssue(
            f"{BASE}.network.pods",
            f"has {pods.num_addresses} addresses; the node pools at their maximum size need "
            f"{needed} (each node takes a range of twice its max_pods_per_node)",
        )


def _check_node_pools(provider: GcpProvider) -> Iterator[SpecIssue]:
    if not provider.node_pools:
        yield SpecIssue(f"{BASE}.node_pools", "needs at least one node pool")
    names = [pool.name for pool in provider.node_pools]
    for index, pool in enumerate(provider.node_pools):
        path = f"{BASE}.node_pools[{index}]"
        if pool.name in names[:index]:
            yield SpecIssue(f"{path}.name", f"duplicates {pool.name!r}")
        yield from _check_node_pool(pool, path)


def _check_node_pool(pool: NodePool, path: str) -> Iterator[SpecIssue]:
    if len(pool.name) > catalog.MAX_NODE_POOL_NAME:
        yield SpecIssue(f"{path}.name", f"is longer than {catalog.MAX_NODE_POOL_NAME} characters")
    if not _MACHINE_TYPE.fullmatch(pool.machine_type):
        yield SpecIssue(
            f"{path}.machine_type",
            f"is not a Compute Engine machine type such as e2-standard-4: {pool.machine_type!r}",
        )
    if pool.min_nodes < 0:
        yield SpecIssue(f"{path}.min_nodes", "must not be negative")
    if pool.max_nodes < max(pool.min_nodes, 1):
        yield SpecIssue(f"{path}.max_nodes", "must be at least 1 and not below min_nodes")
    if pool.max_nodes > catalog.MAX_NODES_PER_POOL_ZONE:
        yield SpecIssue(
            f"{path}.max_nodes",
            f"GKE allows at most {catalog.MAX_NODES_PER_POOL_ZONE} nodes per pool and zone",
        )
    initial = pool.initial_nodes
    if initial is not None and not pool.min_nodes <= initial <= pool.max_nodes:
        yield SpecIssue(f"{path}.initial_nodes", "must be between min_nodes and max_nodes")
    if pool.disk_type not in catalog.DISK_TYPES:
        yield SpecIssue(f"{path}.disk_type", f"must be one of {', '.join(catalog.DISK_TYPES)}")
    if not catalog.MIN_DISK_GB <= pool.disk_size_gb <= catalog.MAX_DISK_GB:
        yield SpecIssue(
            f"{path}.disk_size_gb",
            f"must be from {catalog.MIN_DISK_GB} to {catalog.MAX_DISK_GB}",
        )
    if not catalog.MIN_PODS_PER_NODE <= pool.max_pods_per_node <= catalog.MAX_PODS_PER_NODE:
        yield SpecIssue(
            f"{path}.max_pods_per_node",
            f"must be from {catalog.MIN_PODS_PER_NODE} to {catalog.MAX_PODS_PER_NODE}",
        )


def _check_endpoint(provider: GcpProvider) -> Iterator[SpecIssue]:
    if provider.release_channel not in catalog.RELEASE_CHANNELS:
        yield SpecIssue(
            f"{BASE}.release_channel", f"must be one of {', '.join(catalog.RELEASE_CHANNELS)}"
        )
    if provider.private_endpoint and not provider.private_nodes:
        yield SpecIssue(
            f"{BASE}.private_endpoint", "a private control plane endpoint needs private_nodes"
        )
    networks = provider.authorized_networks
    if len(networks) > catalog.MAX_AUTHORIZED_NETWORKS:
        yield SpecIssue(
            f"{BASE}.authorized_networks",
            f"GKE allows at most {catalog.MAX_AUTHORIZED_NETWORKS} authorized networks",
        )
    for index, network in enumerate(networks):
        path = f"{BASE}.authorized_networks[{index}]"
        address = _ipv4(network.cidr)
        if address is None:
            yield SpecIssue(f"{path}.cidr", "must be an IPv4 network")
        elif address.prefixlen == 0:
            yield SpecIssue(
                f"{path}.cidr",
                "opens the control plane to every address: list the networks that need it",
            )
        if len(network.name) > 100:
            yield SpecIssue(f"{path}.name", "is longer than 100 characters")


def _check_state(state: StateBucket, region: str) -> Iterator[SpecIssue]:
    path = f"{BASE}.state"
    bucket = state.bucket
    if bucket is not None and (
        not _BUCKET.fullmatch(bucket)
        or bucket.startswith("goog")
        or "google" in bucket
        or ".." in bucket
        or _ipv4(bucket) is not None
    ):
        yield SpecIssue(
            f"{path}.bucket",
            "must be a Cloud Storage bucket name: 3 to 63 lower-case letters, digits, - _ . "
            "starting and ending with a letter or digit, without 'goog' or 'google'",
        )
    location = (state.location or region).lower()
    if state.location is not None and location not in catalog.REGIONS | catalog.MULTI_REGIONS:
        yield SpecIssue(f"{path}.location", f"is not a Cloud Storage location: {state.location!r}")
    if state.kms_key is not None:
        match = _KMS_KEY.fullmatch(state.kms_key)
        if match is None:
            yield SpecIssue(
                f"{path}.kms_key",
                "must be a Cloud KMS key: projects/P/locations/L/keyRings/R/cryptoKeys/K",
            )
        elif match.group(2) != location:
            yield SpecIssue(
                f"{path}.kms_key",
                f"is in {match.group(2)}: a bucket in {location} needs a key in {location}",
            )


def _check_labels(labels: Mapping[str, str]) -> Iterator[SpecIssue]:
    if len(labels) > _MAX_LABELS:
        yield SpecIssue(f"{BASE}.labels", f"at most {_MAX_LABELS} labels")
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            yield SpecIssue(
                f"{BASE}.labels.{key}",
                "label keys are 1 to 63 lower-case letters, digits, _ and -, starting with a "
                "letter",
            )
        elif not _LABEL_VALUE.fullmatch(value):
            yield SpecIssue(
                f"{BASE}.labels.{key}", "label values are up to 63 lower-case letters, digits, _ -"
            )
