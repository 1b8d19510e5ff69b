"""The AKS blueprint: the job's cluster as a Terraform root module (JSON), plain ``azurerm``
4.x resources.

Why plain resources rather than the Azure Verified Module
``avm-res-containerservice-managedcluster``: the module is pre-1.0 and built on the ``azapi``
provider (its inputs follow ARM's API versions and changed between its minor releases), while
``azurerm_kubernetes_cluster`` is a stable, documented resource of a provider under semantic
versioning. A handful of resources is also what a person reads in ``qengine export`` and
applies without qengine. docs/azure.md says more.

What the module holds: the resource group (or a data source for an existing one), the VNet and
the nodes' subnet, the cluster (Azure CNI overlay, Entra ID authentication with Azure RBAC and
local accounts off, so no static kubeconfig credential exists; OIDC issuer and workload
identity on; the first node pool as the default System pool), and one
``azurerm_kubernetes_cluster_node_pool`` per further pool; when the job runs external-dns on
Azure DNS, external-dns's identity (see :mod:`qengine_azure.dns_identity`) and, when its
issuers solve ACME DNS-01 there, cert-manager's (:mod:`qengine_azure.cert_manager_identity`).
The provider version is pinned (:data:`AZURERM`), and :data:`BLUEPRINT_DATA`
(``azurerm.json``) lists the arguments and attributes used; a test holds the module to it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_azure import cert_manager_identity, dns_identity
from qengine_azure.credentials import provider_of
from qengine_azure.spec import AksNodePool, AzureProvider

#: The data file: the pinned provider, and per resource type the arguments and attributes the
#: blueprint uses.
BLUEPRINT_DATA: dict[str, Any] = json.loads(
    resources.files("qengine_azure").joinpath("azurerm.json").read_text(encoding="utf-8")
)
AZURERM: str = BLUEPRINT_DATA["provider"]["version"]
REQUIRED_TERRAFORM: str = BLUEPRINT_DATA["terraform"]
#: The root module's outputs, in both the real and the sandbox module.
OUTPUTS = (
    "cluster_name",
    "cluster_id",
    "endpoint",
    "certificate_authority",
    "cluster_version",
    "location",
    "resource_group",
    "node_resource_group",
    "oidc_issuer_url",
)
_SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
_SPOT_LABEL = {"kubernetes.azure.com/scalesetpriority": "spot"}


def tags_of(job: InfrastructureJob) -> dict[str, str]:
    """The job's tags and the engine's own (which cluster the resources belong to)."""
    return {**provider_of(job).tags, "qengine-cluster": job.cluster.id}


def variables_of(job: InfrastructureJob) -> dict[str, Any]:
    """The root module's variables, their defaults the job's values."""
    provider = provider_of(job)
    values = {
        "subscription_id": provider.subscription_id,
        "location": provider.location,
        "resource_group_name": provider.resource_group.name,
        "cluster_name": job.cluster.name,
        "kubernetes_version": job.cluster.kubernetes_version,
    }
    return {name: {"type": "string", "default": value} for name, value in values.items()}


def _group(provider: AzureProvider) -> str:
    if provider.resource_group.create:
        return "azurerm_resource_group.cluster"
    return "data.azurerm_resource_group.cluster"


def _pool_sizes(pool: AksNodePool) -> dict[str, Any]:
    return {
        "vm_size": pool.vm_size,
        "vnet_subnet_id": "${azurerm_subnet.nodes.id}",
        "auto_scaling_enabled": True,
        "min_count": pool.min_count,
        "max_count": pool.max_count,
        "node_count": pool.count if pool.count is not None else max(pool.min_count, 1),
        "zones": list(pool.zones),
        "os_disk_size_gb": pool.os_disk_size_gb,
        "os_disk_type": pool.os_disk_type,
        "max_pods": pool.max_pods,
    }


def default_node_pool(pool: AksNodePool) -> dict[str, Any]:
    """The cluster's ``default_node_pool`` block (the first, System, pool)."""
    return {
        "name": pool.name,
        **_pool_sizes(pool),
        "only_critical_addons_enabled": False,
        "temporary_name_for_rotation": f"{pool.name[:8]}tmp",
    }


def node_pool(job: InfrastructureJob, pool: AksNodePool) -> dict[str, Any]:
    """An ``azurerm_kubernetes_cluster_node_pool`` of a further pool."""
    body: dict[str, Any] = {
        "name": pool.name,
        "kubernetes_cluster_id": "${azurerm_kubernetes_cluster.cluster.id}",
        **_pool_sizes(pool),
        "mode": pool.mode,
        "tags": tags_of(job),
        # The autoscaler owns the count after creation.
        "lifecycle": [{"ignore_changes": ["node_count"]}],
    }
    if pool.spot:
        # AKS adds the Spot taint and label itself; declaring them avoids a perpetual diff.
        body.update(
            priority="Spot",
            eviction_policy="Delete",
            spot_max_price=-1,
            node_taints=[_SPOT_TAINT],
            node_labels=_SPOT_LABEL,
        )
    return body


def cluster_resource(job: InfrastructureJob) -> dict[str, Any]:
    """The ``azurerm_kubernetes_cluster`` resource."""
    provider = provider_of(job)
    group = _group(provider)
    body: dict[str, Any] = {
        "name": "${var.cluster_name}",
        "location": f"${{{group}.location}}",
        "resource_group_name": f"${{{group}.name}}",
        "dns_prefix": "${var.cluster_name}",
        "kubernetes_version": "${var.kubernetes_version}",
        "sku_tier": provider.sku_tier,
        "oidc_issuer_enabled": True,
        "workload_identity_enabled": True,
        "private_cluster_enabled": provider.private_cluster,
        "local_account_disabled": True,
        "azure_active_directory_role_based_access_control": [
            {"azure_rbac_enabled": True, "tenant_id": provider.tenant_id}
        ],
        "identity": [{"type": "SystemAssigned"}],
        "default_node_pool": [default_node_pool(provider.node_pools[0])],
        "network_profile": [
            {
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "pod_cidr": provider.network.pods,
                "service_cidr": provider.network.services,
                "dns_service_ip": provider.network.dns_service_ip,
                "load_balancer_sku": "standard",
                "outbound_type": "loadBalancer",
            }
        ],
        "tags": tags_of(job),
        "lifecycle": [{"ignore_changes": ["default_node_pool[0].node_count"]}],
    }
    if provider.authorized_ip_ranges:
        body["api_server_access_profile"] = [
            {"authorized_ip_ranges": list(provider.authorized_ip_ranges)}
        ]
    return body


def aks_root_module(job: InfrastructureJob) -> dict[str, Any]:
    """The real root module of the job's cluster, on the ``azurerm`` backend."""
    provider = provider_of(job)
    group = _group(provider)
    resources_: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if provider.resource_group.create:
        resources_["azurerm_resource_group"] = {
            "cluster": {
                "name": "${var.resource_group_name}",
                "location": "${var.location}",
                "tags": tags_of(job),
            }
        }
    else:
        data["azurerm_resource_group"] = {"cluster": {"name": "${var.resource_group_name}"}}
    resources_["azurerm_virtual_network"] = {
        "cluster": {
            "name": "${var.cluster_name}-vnet",
            "location": f"${{{group}.location}}",
            "resource_group_name": f"${{{group}.name}}",
            "address_space": [provider.network.vnet],
            "tags": tags_of(job),
        }
    }
    resources_["azurerm_subnet"] = {
        "nodes": {
            "name": "nodes",
            "resource_group_name": f"${{{group}.name}}",
            "virtual_network_name": "${azurerm_virtual_network.cluster.name}",
            "address_prefixes": [provider.network.nodes],
        }
    }
    resources_["azurerm_kubernetes_cluster"] = {"cluster": cluster_resource(job)}
    pools = {pool.name: node_pool(job, pool) for pool in provider.node_pools[1:]}
    if pools:
        resources_["azurerm_kubernetes_cluster_node_pool"] = pools
    dns = dns_identity.blueprint_parts(job, group, tags_of(job))
    acme = cert_manager_identity.blueprint_parts(job, group, tags_of(job))
    for part in (dns, acme):
        for kind, named in part["resource"].items():
            resources_[kind] = {**resources_.get(kind, {}), **named}
    module: dict[str, Any] = {
        "terraform": {
            "required_version": REQUIRED_TERRAFORM,
            "required_providers": {
                "azurerm": {"source": BLUEPRINT_DATA["provider"]["source"], "version": AZURERM}
            },
            "backend": {"azurerm": {}},
        },
        "provider": {
            "azurerm": {
                "features": [{}],
                "subscription_id": "${var.subscription_id}",
                "tenant_id": provider.tenant_id,
                "client_id": provider.client_id,
                "storage_use_azuread": True,
            }
        },
        "variable": variables_of(job),
        "resource": resources_,
        "output": {**_outputs(provider), **dns["output"], **acme["output"]},
    }
    if data:
        module["data"] = data
    return module


def _outputs(provider: AzureProvider) -> dict[str, Any]:
    cluster = "azurerm_kubernetes_cluster.cluster"
    fqdn = "private_fqdn" if provider.private_cluster else "fqdn"
    ca = f"nonsensitive({cluster}.kube_config[0].cluster_ca_certificate)"
    return {
        "cluster_name": {"value": f"${{{cluster}.name}}"},
        "cluster_id": {"value": f"${{{cluster}.id}}"},
        "endpoint": {"value": f"https://${{{cluster}.{fqdn}}}:443"},
        # The CA is public; the provider marks the whole kube_config sensitive.
        "certificate_authority": {"value": f"${{{ca}}}"},
        "cluster_version": {"value": f"${{{cluster}.current_kubernetes_version}}"},
        "location": {"value": f"${{{cluster}.location}}"},
        "resource_group": {"value": f"${{{cluster}.resource_group_name}}"},
        "node_resource_group": {"value": f"${{{cluster}.node_resource_group}}"},
        "oidc_issuer_url": {"value": f"${{{cluster}.oidc_issuer_url}}"},
    }
