"""The sandbox: Terraform's state in a local Azure Blob storage (Azurite, over HTTPS, reached
by the real ``azurerm`` backend), Azure Resource Manager and Entra ID as local stand-ins, and
the blueprint's cloud resources as builtin ``terraform_data`` stand-ins.

The azurerm provider cannot be installed offline, so the sandbox root module keeps the real
one's shape (variables, ``azurerm`` backend, outputs with the same names) and replaces each
Azure resource with a ``terraform_data`` whose ``input`` holds what the real one would get:
the resource group, the VNet and subnet, the cluster, one per further node pool, and
external-dns's identity when the job has one (its client id is an output the add-on step puts
on external-dns's service account, as on AKS). Terraform plans and applies it for real, its
state and blob-lease lock in the local account. The cluster's endpoint and CA are the
sandbox's Kubernetes API (the simulator), so an environment job of the same session deploys
onto it. The stand-in ARM also holds a managed cluster resource for it, so stop and start go
through azure-mgmt-containerservice.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qengine.plugin import SandboxCluster
from qengine.spec import InfrastructureJob
from qengine_azure import addon_identity, cert_manager_identity, dns_identity
from qengine_azure.blueprint import (
    cluster_resource,
    node_pool,
    tags_of,
    variables_of,
)
from qengine_azure.credentials import provider_of
from qengine_azure.settings import AzureSettings

if TYPE_CHECKING:
    from qengine_azure.local_arm import LocalArm

SANDBOX_NOTICE = (
    "SANDBOX: nothing is created on Azure. The Terraform state goes to a local Azurite, "
    "Resource Manager and Entra ID are local stand-ins, and the cluster is a set of "
    "terraform_data stand-ins pointing at the local Kubernetes API."
)
#: The cluster a step's content hash is computed with, in place of the run's own: the
#: sandbox's address and CA change every run, and a finished job must not look changed.
PLACEHOLDER_CLUSTER = SandboxCluster(endpoint="https://127.0.0.1:6443", ca_pem="", token="")


def sandbox_root_module(job: InfrastructureJob, cluster: SandboxCluster) -> dict[str, Any]:
    """The stand-in root module: same variables, backend and outputs as the real one."""
    provider = provider_of(job)
    real = cluster_resource(job)
    resources: dict[str, Any] = {
        "resource_group": {
            "input": {
                "name": "${var.resource_group_name}",
                "location": "${var.location}",
                "managed": provider.resource_group.create,
            }
        },
        "network": {
            "input": {
                "vnet": provider.network.vnet,
                "subnet": provider.network.nodes,
                "name": "${var.cluster_name}-vnet",
            }
        },
        "cluster": {"input": _cluster_input(job, cluster, real)},
    }
    for pool in provider.node_pools[1:]:
        dropped = ("lifecycle", "vnet_subnet_id", "kubernetes_cluster_id")
        stand_in = {k: v for k, v in node_pool(job, pool).items() if k not in dropped}
        resources[f"node_pool_{pool.name}"] = {"input": stand_in}
    outputs = _outputs()
    zone = dns_identity.external_dns_zone(job)
    if zone is not None:
        roles = {
            addon_identity.zone_scope(zone): dns_identity.ZONE_ROLE,
            addon_identity.group_scope(zone): dns_identity.GROUP_ROLE,
        }
        _add_identity(
            resources, outputs, job, dns_identity.ADDON, roles, dns_identity.CLIENT_ID_OUTPUT
        )
    acme_zone = cert_manager_identity.dns01_zone(job)
    if acme_zone is not None:
        roles = {addon_identity.zone_scope(acme_zone): cert_manager_identity.ZONE_ROLE}
        _add_identity(
            resources,
            outputs,
            job,
            cert_manager_identity.ADDON,
            roles,
            cert_manager_identity.CLIENT_ID_OUTPUT,
        )
    return {
        "terraform": {"backend": {"azurerm": {}}},
        "variable": variables_of(job),
        "resource": {"terraform_data": resources},
        "output": outputs,
    }


def _add_identity(
    resources: dict[str, Any],
    outputs: dict[str, Any],
    job: InfrastructureJob,
    addon: str,
    roles: dict[str, str],
    output: str,
) -> None:
    """Add the stand-in of ``addon``'s identity (external-dns's, cert-manager's for ACME
    DNS-01): what the real identity, its federated credential and role assignments (``roles``,
    scope to role) get, and its client id as the output ``output``. The client id is made up (a
    name-based UUID of the cluster id and the add-on): no Entra ID issues one here."""
    name = f"{addon_identity.key(addon)}_identity"
    resources[name] = {
        "input": {
            "name": addon_identity.identity_name(addon),
            "client_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"qengine:{job.cluster.id}:{addon}")),
            "issuer": "${terraform_data.cluster.output.oidc_issuer_url}",
            "subject": addon_identity.subject(addon),
            "audience": [addon_identity.AUDIENCE],
            "roles": roles,
        }
    }
    outputs[output] = {"value": f"${{terraform_data.{name}.output.client_id}}"}


def _cluster_input(
    job: InfrastructureJob, cluster: SandboxCluster, real: dict[str, Any]
) -> dict[str, Any]:
    provider = provider_of(job)
    kept = (
        "sku_tier",
        "oidc_issuer_enabled",
        "workload_identity_enabled",
        "private_cluster_enabled",
        "local_account_disabled",
        "network_profile",
        "api_server_access_profile",
    )
    group = "${terraform_data.resource_group.output.name}"
    return {
        "name": "${var.cluster_name}",
        "version": "${var.kubernetes_version}",
        "location": "${var.location}",
        "resource_group": group,
        "node_resource_group": f"MC_{group}_${{var.cluster_name}}_${{var.location}}",
        "id": (
            f"/subscriptions/{provider.subscription_id}/resourceGroups/{group}/providers/"
            "Microsoft.ContainerService/managedClusters/${var.cluster_name}"
        ),
        "endpoint": cluster.endpoint,
        "certificate_authority": base64.b64encode(cluster.ca_pem.encode()).decode("ascii"),
        "oidc_issuer_url": f"https://{provider.location}.oic.prod-aks.azure.com/"
        f"{provider.tenant_id}/${{var.cluster_name}}/",
        "default_node_pool": {
            key: value
            for key, value in real["default_node_pool"][0].items()
            if key != "vnet_subnet_id"
        },
        "tags": tags_of(job),
        **{key: real[key] for key in kept if key in real},
    }


def _outputs() -> dict[str, Any]:
    cluster = "terraform_data.cluster.output"
    return {
        "cluster_name": {"value": f"${{{cluster}.name}}"},
        "cluster_id": {"value": f"${{{cluster}.id}}"},
        "endpoint": {"value": f"${{{cluster}.endpoint}}"},
        "certificate_authority": {"value": f"${{{cluster}.certificate_authority}}"},
        "cluster_version": {"value": f"${{{cluster}.version}}"},
        "location": {"value": f"${{{cluster}.location}}"},
        "resource_group": {"value": f"${{{cluster}.resource_group}}"},
        "node_resource_group": {"value": f"${{{cluster}.node_resource_group}}"},
        "oidc_issuer_url": {"value": f"${{{cluster}.oidc_issuer_url}}"},
    }


@contextmanager
def sandbox_cluster(readiness_delay: float = 0.5) -> Iterator[SandboxCluster]:
    """Start the Kubernetes API simulator on 127.0.0.1 (a free port); stop it on exit."""
    from qengine.testing.kube import KubeSimulator

    with KubeSimulator(readiness_delay=readiness_delay) as simulator:
        ca = simulator.ca_pem
        yield SandboxCluster(
            endpoint=simulator.url,
            ca_pem=ca.decode("ascii") if isinstance(ca, bytes) else str(ca),
            token=simulator.token,
        )


@contextmanager
def sandbox_entra(directory: Path) -> Iterator[LocalArm]:
    """Start the stand-in Resource Manager and Entra ID, serving a certificate (under a
    throwaway CA written in ``directory``) that also names the local blob host, so the same
    CA serves a session's Azurite; stop it on exit."""
    from qengine_azure.local_arm import LocalArm
    from qengine_azure.local_azurite import STORAGE_SUFFIX
    from qengine_azure.local_tls import make_tls

    names = (f"*.blob.{STORAGE_SUFFIX}", f"blob.{STORAGE_SUFFIX}", "localhost")
    with LocalArm(make_tls(directory, names)) as arm:
        yield arm


@contextmanager
def sandbox_azure(
    accounts: tuple[str, ...],
    cluster: SandboxCluster | None = None,
    *,
    entra: LocalArm | None = None,
) -> Iterator[AzureSettings]:
    """Start Azurite serving ``accounts``, the stand-in ARM and Entra ID (unless ``entra``,
    one of :func:`sandbox_entra` already running, is given: Azurite then serves its
    certificate) and, without ``cluster``, the Kubernetes simulator; stop them on exit.
    Yields the settings a sandbox run gives the plugin (the stand-in ARM as ``stand_in``)."""
    from qengine_azure.local_arm import LocalArm
    from qengine_azure.local_azurite import LocalAzurite

    with ExitStack() as stack:
        azurite = stack.enter_context(
            LocalAzurite(accounts, tls=entra.tls if entra is not None else None)
        )
        assert azurite.tls is not None
        arm = stack.enter_context(LocalArm(azurite.tls)) if entra is None else entra
        arm.on_container = azurite.create_container
        arm.accounts = frozenset(accounts)
        if cluster is None:
            cluster = stack.enter_context(sandbox_cluster())
        settings = AzureSettings(
            arm_endpoint=arm.url,
            authority=arm.url,
            ca_file=azurite.ca_file,
            blob_endpoint=azurite.account_url,
            terraform_env=azurite.terraform_environment(),
            state_sas=azurite.account_sas,
            sandbox=cluster,
            stand_in=arm,
        )
        yield settings
