"""external-dns's identity on Azure: a user-assigned managed identity it signs in as through
AKS's workload identity, allowed to change the records of the job's DNS zone.

When the job's add-on stack runs external-dns on an Azure DNS zone (``cluster.addons`` and the
``dns`` section decide it, as :func:`qengine_addons.addon_enabled` says), the blueprint adds:

- the identity ``<cluster>-external-dns`` in the cluster's resource group;
- a federated identity credential on it that trusts exactly one token: the cluster's OIDC
  issuer, the subject ``system:serviceaccount:qengine-system:external-dns`` and the audience
  ``api://AzureADTokenExchange`` (what AKS's workload identity webhook asks for), so no other
  service account, and no other cluster, can sign in as it;
- the role ``DNS Zone Contributor`` on the job's zone only (the zone's resource id as scope):
  its record sets can be read and changed, no other zone's;
- the role ``Reader`` on the zone's resource group: external-dns lists the group's DNS zones
  to find its own, and Resource Manager refuses a list at the group's scope to a principal
  whose roles are on the zone alone;
- the output ``external_dns_client_id`` (the identity's client id).

The add-on step puts the client id on external-dns's service account
(``azure.workload.identity/client-id``); the stack's values give external-dns the zone's
subscription and resource group and the pod label the webhook looks for. Entra ID then
exchanges the pod's projected token for the identity's, an hour at a time. No secret is made
or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.spec import InfrastructureJob
from qengine.terraform import literal
from qengine_azure.spec import AzureDns

ADDON = "external-dns"
CLIENT_ID_OUTPUT = "external_dns_client_id"
ANNOTATION = "azure.workload.identity/client-id"
AUDIENCE = "api://AzureADTokenExchange"
ZONE_ROLE = "DNS Zone Contributor"
GROUP_ROLE = "Reader"
IDENTITY_NAME = "${var.cluster_name}-external-dns"
PRINCIPAL = "${azurerm_user_assigned_identity.external_dns.principal_id}"


def external_dns_zone(job: InfrastructureJob) -> AzureDns | None:
    """The job's Azure DNS zone when its add-on stack runs external-dns on it; else None."""
    if not isinstance(job.dns, AzureDns):
        return None
    from qengine_addons import addon_enabled

    return job.dns if addon_enabled(job, ADDON) else None


def subject(addon: str = ADDON) -> str:
    """The one Kubernetes subject the federated credential of ``addon`` (external-dns unless
    named) trusts."""
    from qengine_addons import service_account_subject

    return service_account_subject(addon)


def group_scope(zone: AzureDns) -> str:
    """The resource id of the zone's resource group."""
    return (
        f"/subscriptions/{literal(zone.subscription_id)}"
        f"/resourceGroups/{literal(zone.resource_group)}"
    )


def zone_scope(zone: AzureDns) -> str:
    """The zone's resource id."""
    name = zone.zone.removesuffix(".")
    return f"{group_scope(zone)}/providers/Microsoft.Network/dnsZones/{literal(name)}"


def blueprint_parts(
    job: InfrastructureJob, group: str, tags: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The ``resource`` and ``output`` blocks the identity adds to the root module (empty when
    the job runs no external-dns on Azure DNS). ``group``: the Terraform address of the
    cluster's resource group; ``tags``: the cluster's tags."""
    zone = external_dns_zone(job)
    if zone is None:
        return {"resource": {}, "output": {}}
    resource = {
        "azurerm_user_assigned_identity": {
            "external_dns": {
                "name": IDENTITY_NAME,
                "location": f"${{{group}.location}}",
                "resource_group_name": f"${{{group}.name}}",
                "tags": dict(tags),
            }
        },
        "azurerm_federated_identity_credential": {
            "external_dns": {
                "name": "external-dns",
                "resource_group_name": f"${{{group}.name}}",
                "parent_id": "${azurerm_user_assigned_identity.external_dns.id}",
                "audience": [AUDIENCE],
                "issuer": "${azurerm_kubernetes_cluster.cluster.oidc_issuer_url}",
                "subject": subject(),
            }
        },
        "azurerm_role_assignment": {
            "external_dns_zone": role_assignment(zone_scope(zone), ZONE_ROLE),
            "external_dns_zones": role_assignment(group_scope(zone), GROUP_ROLE),
        },
    }
    value = "${azurerm_user_assigned_identity.external_dns.client_id}"
    return {"resource": resource, "output": {CLIENT_ID_OUTPUT: {"value": value}}}


def role_assignment(scope: str, role: str, principal: str = PRINCIPAL) -> dict[str, Any]:
    """An ``azurerm_role_assignment`` of ``role`` at ``scope`` to ``principal`` (external-dns's
    identity unless given)."""
    # A new identity's principal may not have replicated yet: naming its type lets Azure
    # assign the role without looking it up.
    return {
        "scope": scope,
        "role_definition_name": role,
        "principal_id": principal,
        "principal_type": "ServicePrincipal",
    }


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """external-dns's service account annotations from the apply step's outputs (``applied``):
    the identity's client id. Raises when the apply returned none, rather than install
    external-dns with no permission on the zone."""
    client_id = applied.get(CLIENT_ID_OUTPUT, "")
    if not client_id:
        raise InfrastructureError(
            f"the cluster's apply returned no {CLIENT_ID_OUTPUT}: external-dns would have no "
            "permission on the DNS zone",
            hint="The root module must output the client id of external-dns's identity when "
            "the job runs external-dns on Azure DNS; see docs/azure.md.",
        )
    return {ANNOTATION: client_id}
