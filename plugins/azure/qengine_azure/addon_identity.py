"""The user-assigned managed identity an add-on signs in as through AKS's workload identity:
the pieces external-dns's (:mod:`qengine_azure.dns_identity`) and cert-manager's
(:mod:`qengine_azure.cert_manager_identity`) identities share.

For an add-on ``A`` (Terraform key ``K``: ``A`` with ``_`` for ``-``), :func:`blueprint_parts`
makes:

- the identity ``azurerm_user_assigned_identity.K``, named ``<cluster>-A``, in the cluster's
  resource group;
- a federated identity credential on it (``azurerm_federated_identity_credential.K``, named
  ``A``) that trusts exactly one token: the cluster's OIDC issuer, the subject
  ``system:serviceaccount:qengine-system:A`` and the audience ``api://AzureADTokenExchange``
  (what AKS's workload identity webhook asks for), so no other service account, and no other
  cluster, can sign in as it;
- the add-on's role assignments (``azurerm_role_assignment.K_<suffix>``);
- the output of the identity's client id, which the add-on step puts on the add-on's service
  account (:func:`service_account_annotations`). No secret is made or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.terraform import literal
from qengine_azure.spec import AzureDns

ANNOTATION = "azure.workload.identity/client-id"
AUDIENCE = "api://AzureADTokenExchange"
ISSUER = "${azurerm_kubernetes_cluster.cluster.oidc_issuer_url}"


def key(addon: str) -> str:
    """The Terraform name of ``addon``'s resources (``cert_manager`` for cert-manager)."""
    return addon.replace("-", "_")


def identity_name(addon: str) -> str:
    """The name of ``addon``'s identity: ``<cluster>-<addon>``."""
    return f"${{var.cluster_name}}-{addon}"


def principal(addon: str) -> str:
    """The principal id of ``addon``'s identity."""
    return f"${{azurerm_user_assigned_identity.{key(addon)}.principal_id}}"


def subject(addon: str) -> str:
    """The one Kubernetes subject the federated credential of ``addon`` trusts."""
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


def role_assignment(scope: str, role: str, principal: str) -> dict[str, Any]:
    """An ``azurerm_role_assignment`` of ``role`` at ``scope`` to ``principal``."""
    # A new identity's principal may not have replicated yet: naming its type lets Azure
    # assign the role without looking it up.
    return {
        "scope": scope,
        "role_definition_name": role,
        "principal_id": principal,
        "principal_type": "ServicePrincipal",
    }


def blueprint_parts(
    addon: str,
    group: str,
    tags: Mapping[str, str],
    *,
    roles: Mapping[str, tuple[str, str]],
    output: str,
) -> dict[str, dict[str, Any]]:
    """The ``resource`` and ``output`` blocks of ``addon``'s identity. ``group``: the
    Terraform address of the cluster's resource group; ``tags``: the cluster's tags;
    ``roles``: by name suffix, the scope and role of each assignment; ``output``: the name
    of the client id's output."""
    name = key(addon)
    resource = {
        "azurerm_user_assigned_identity": {
            name: {
                "name": identity_name(addon),
                "location": f"${{{group}.location}}",
                "resource_group_name": f"${{{group}.name}}",
                "tags": dict(tags),
            }
        },
        "azurerm_federated_identity_credential": {
            name: {
                "name": addon,
                "resource_group_name": f"${{{group}.name}}",
                "parent_id": f"${{azurerm_user_assigned_identity.{name}.id}}",
                "audience": [AUDIENCE],
                "issuer": ISSUER,
                "subject": subject(addon),
            }
        },
        "azurerm_role_assignment": {
            f"{name}_{suffix}": role_assignment(scope, role, principal(addon))
            for suffix, (scope, role) in roles.items()
        },
    }
    value = f"${{azurerm_user_assigned_identity.{name}.client_id}}"
    return {"resource": resource, "output": {output: {"value": value}}}


def service_account_annotations(
    applied: Mapping[str, str], output: str, *, lacking: str, hint: str
) -> dict[str, str]:
    """The add-on's service account annotations from the apply step's outputs (``applied``):
    the client id in ``output``. Raises when the apply returned none, rather than install the
    add-on with no permission; ``lacking`` ends the error's message (what the add-on lacks)."""
    client_id = applied.get(output, "")
    if not client_id:
        raise InfrastructureError(f"the cluster's apply returned no {output}: {lacking}", hint=hint)
    return {ANNOTATION: client_id}
