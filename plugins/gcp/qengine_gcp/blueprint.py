"""The GKE blueprint: a Terraform root module in JSON form, built as Python data.

Two pinned community modules (``modules.json`` holds their versions and interfaces):
``terraform-google-modules/network/google`` (a VPC and one subnet in the region, whose primary
range holds the nodes and whose two secondary ranges hold pods and services) and the
``private-cluster`` submodule of ``terraform-google-modules/kubernetes-engine/google`` (a
regional GKE Standard cluster, VPC-native, private nodes, workload identity on, the default
node pool removed and the job's node pools autoscaled). Next to them, a Cloud Router and
Cloud NAT give private nodes their way out (image pulls), and, when the job runs external-dns
on Cloud DNS, external-dns's service account and its bindings (see
:mod:`qengine_gcp.dns_identity`).

The backend block is ``gcs`` with no settings: they are given at ``terraform init`` (see
:meth:`qengine_gcp.state_backend.StateLocation.backend_config`). The provider takes its token
from ``GOOGLE_OAUTH_ACCESS_TOKEN`` in Terraform's environment; nothing in the module is a
credential.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from qengine.spec import InfrastructureJob
from qengine.terraform import literal
from qengine_gcp import cert_manager_identity, dns_identity
from qengine_gcp.modules import GKE, NETWORK, pinned
from qengine_gcp.spec import ArtifactRegistry, GcpProvider, NodePool

#: The root module's outputs (also the sandbox's): what a step returns.
OUTPUTS = (
    "cluster_name",
    "endpoint",
    "certificate_authority",
    "cluster_version",
    "location",
    "workload_identity_pool",
    "network_name",
)
NODE_POOL_LABEL = "qengine.dev/node-pool"


@attrs.frozen(kw_only=True)
class BlueprintOptions:
    """How one apply differs from the job's steady state.

    ``paused``: every node pool's autoscaling minimum at zero (its maximum kept), so GKE may
    take the nodes away and a resize to zero holds.
    """

    paused: bool = False


def provider_of(job: InfrastructureJob) -> GcpProvider:
    """The job's GCP section (TypeError for another cloud)."""
    provider = job.cluster.provider
    if not isinstance(provider, GcpProvider):
        raise TypeError("not a GCP infrastructure job")
    return provider


def labels_of(job: InfrastructureJob) -> dict[str, str]:
    """Labels on every resource: the user's, then cluster and managed-by (GCP label values
    are lower case: the cluster id is lowered)."""
    return {
        **provider_of(job).labels,
        "qengine-cluster": job.cluster.id.lower().replace(".", "-")[:63],
        "managed-by": "qengine",
    }


def names_of(job: InfrastructureJob) -> dict[str, str]:
    """The names of the network, subnet, secondary ranges and router of the cluster."""
    name = job.cluster.name
    return {
        "network": f"{name}-vpc",
        "subnet": f"{name}-nodes",
        "pods": f"{name}-pods",
        "services": f"{name}-services",
        "router": f"{name}-router",
        "nat": f"{name}-nat",
    }


def gke_root_module(
    job: InfrastructureJob,
    options: BlueprintOptions | None = None,
    *,
    module_dir: Path | None = None,
) -> dict[str, Any]:
    """The root module of the job's cluster.

    Modules come from the registry at their pinned versions, or, with ``module_dir``, from
    ``<module_dir>/<namespace>/<name>/<provider>/<version>/`` (the engine's Terraform
    settings).
    """
    options = options or BlueprintOptions()
    provider = provider_of(job)
    dns = dns_identity.blueprint_parts(job)
    acme = cert_manager_identity.blueprint_parts(job)
    module: dict[str, Any] = {
        "terraform": _settings(),
        "provider": {"google": {"project": "${var.project_id}", "region": "${var.region}"}},
        "variable": variables_of(job),
        "module": {
            "vpc": network_module(job, module_dir=module_dir),
            "gke": gke_module(job, options, module_dir=module_dir),
        },
        "output": {**_outputs(), **dns["output"], **acme["output"]},
    }
    data = _merged(dns["data"], acme["data"])
    if data:
        module["data"] = data
    resources = _merged(_nat(job) if provider.private_nodes else {}, dns["resource"])
    resources = _merged(resources, acme["resource"])
    if resources:
        module["resource"] = resources
    return module


def _merged(blocks: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """``blocks`` of one kind (``data``, ``resource``) with ``more``'s, type by type."""
    merged = dict(blocks)
    for kind, named in more.items():
        merged[kind] = {**merged.get(kind, {}), **named}
    return merged


def _settings() -> dict[str, Any]:
    gke = pinned(GKE)
    return {
        "required_version": gke.required_terraform,
        "required_providers": {"google": gke.providers["google"]},
        "backend": {"gcs": {}},
    }


def variables_of(job: InfrastructureJob) -> dict[str, Any]:
    """The root module's variables, with the job's values as defaults."""
    provider = provider_of(job)
    return {
        "project_id": {"type": "string", "default": provider.project},
        "region": {"type": "string", "default": provider.region},
        "cluster_name": {"type": "string", "default": job.cluster.name},
        "kubernetes_version": {"type": "string", "default": job.cluster.kubernetes_version},
    }


def network_module(job: InfrastructureJob, *, module_dir: Path | None = None) -> dict[str, Any]:
    """The VPC and its subnet, with the pods' and services' secondary ranges."""
    provider, names = provider_of(job), names_of(job)
    return {
        **pinned(NETWORK).source_arguments(module_dir),
        "project_id": "${var.project_id}",
        "network_name": names["network"],
        "routing_mode": "REGIONAL",
        "subnets": [
            {
                "subnet_name": names["subnet"],
                "subnet_ip": provider.network.nodes,
                "subnet_region": "${var.region}",
                "subnet_private_access": "true",
            }
        ],
        "secondary_ranges": {
            names["subnet"]: [
                {"range_name": names["pods"], "ip_cidr_range": provider.network.pods},
                {"range_name": names["services"], "ip_cidr_range": provider.network.services},
            ]
        },
    }


def gke_module(
    job: InfrastructureJob, options: BlueprintOptions, *, module_dir: Path | None = None
) -> dict[str, Any]:
    """The regional GKE Standard cluster and its node pools."""
    provider, names = provider_of(job), names_of(job)
    return {
        **_registry_access(job),
        **pinned(GKE).source_arguments(module_dir),
        "project_id": "${var.project_id}",
        "name": "${var.cluster_name}",
        "region": "${var.region}",
        "regional": True,
        "zones": list(provider.zones),
        "network": "${module.vpc.network_name}",
        "subnetwork": "${module.vpc.subnets_names[0]}",
        "ip_range_pods": names["pods"],
        "ip_range_services": names["services"],
        "kubernetes_version": "${var.kubernetes_version}",
        "release_channel": "UNSPECIFIED"
        if provider.release_channel == "none"
        else provider.release_channel.upper(),
        "enable_private_nodes": provider.private_nodes,
        "enable_private_endpoint": provider.private_endpoint,
        "master_ipv4_cidr_block": provider.network.control_plane,
        "master_authorized_networks": [
            {"cidr_block": net.cidr, "display_name": literal(net.name or net.cidr)}
            for net in provider.authorized_networks
        ],
        "identity_namespace": "enabled",
        "remove_default_node_pool": True,
        # qengine's destructive-change guard stands where GKE's deletion protection would:
        # a delete job must be able to destroy the cluster it created.
        "deletion_protection": False,
        "cluster_resource_labels": labels_of(job),
        "node_pools": [node_pool(pool, provider, options) for pool in provider.node_pools],
        "node_pools_labels": {
            "all": {},
            **{pool.name: {NODE_POOL_LABEL: pool.name} for pool in provider.node_pools},
        },
    }


def _registry_access(job: InfrastructureJob) -> dict[str, Any]:
    """With an ``artifact-registry`` section: the node service account the module creates gets
    ``roles/artifactregistry.reader`` (and ``storage.objectViewer``) on the registry's project,
    so a pod scheduled after the deploy's short-lived pull token expired still pulls."""
    registry = job.registry
    if not isinstance(registry, ArtifactRegistry):
        return {}
    return {"grant_registry_access": True, "registry_project_ids": [registry.project]}


def node_pool(pool: NodePool, provider: GcpProvider, options: BlueprintOptions) -> dict[str, Any]:
    """The module's map of one node pool (autoscaled; min 0 while paused)."""
    block: dict[str, Any] = {
        "name": pool.name,
        "machine_type": pool.machine_type,
        "min_count": 0 if options.paused else pool.min_nodes,
        "max_count": pool.max_nodes,
        "initial_node_count": pool.min_nodes if pool.initial_nodes is None else pool.initial_nodes,
        "disk_size_gb": pool.disk_size_gb,
        "disk_type": pool.disk_type,
        "spot": pool.spot,
        "max_pods_per_node": pool.max_pods_per_node,
        "image_type": "COS_CONTAINERD",
        "auto_repair": True,
        "auto_upgrade": provider.release_channel != "none",
    }
    if provider.zones:
        block["node_locations"] = ",".join(provider.zones)
    return block


def _nat(job: InfrastructureJob) -> dict[str, Any]:
    names = names_of(job)
    return {
        "google_compute_router": {
            "nat": {
                "name": names["router"],
                "project": "${var.project_id}",
                "region": "${var.region}",
                "network": "${module.vpc.network_self_link}",
            }
        },
        "google_compute_router_nat": {
            "nat": {
                "name": names["nat"],
                "project": "${var.project_id}",
                "region": "${var.region}",
                "router": "${google_compute_router.nat.name}",
                "nat_ip_allocate_option": "AUTO_ONLY",
                "source_subnetwork_ip_ranges_to_nat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
            }
        },
    }


def _outputs() -> dict[str, Any]:
    # The module marks endpoint and CA sensitive; neither is a secret, and the engine needs
    # both to reach the cluster (the token is never an output).
    return {
        "cluster_name": {"value": "${module.gke.name}"},
        "endpoint": {"value": "https://${nonsensitive(module.gke.endpoint)}"},
        "certificate_authority": {"value": "${nonsensitive(module.gke.ca_certificate)}"},
        "cluster_version": {"value": "${module.gke.master_version}"},
        "location": {"value": "${module.gke.location}"},
        "workload_identity_pool": {"value": "${module.gke.identity_namespace}"},
        "network_name": {"value": "${module.vpc.network_name}"},
    }
