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

The blocks are :mod:`qengine_azure.addon_identity`'s, as for cert-manager's identity.

The add-on step puts the client id on external-dns's service account
(``azure.workload.identity/client-id``); the stack's values give external-dns the zone's
subscription and resource group and the pod label the webhook looks for. Entra ID then
exchanges the pod's projected token for the identity's, an hour at a time. No secret is made
or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_azure import addon_identity
from qengine_azure.spec import AzureDns

ADDON = "external-dns"
CLIENT_ID_OUTPUT = "external_dns_client_id"
ZONE_ROLE = "DNS Zone Contributor"
GROUP_ROLE = "Reader"


def external_dns_zone(job: InfrastructureJob) -> AzureDns | None:
    """The job's Azure DNS zone when its add-on stack runs external-dns on it; else None."""
    if not isinstance(job.dns, AzureDns):
        return None
    from qengine_addons import addon_enabled

    return job.dns if addon_enabled(job, ADDON) else None


def blueprint_parts(
    job: InfrastructureJob, group: str, tags: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The ``resource`` and ``output`` blocks the identity adds to the root module (empty when
    the job runs no external-dns on Azure DNS). ``group``: the Terraform address of the
    cluster's resource group; ``tags``: the cluster's tags."""
    zone = external_dns_zone(job)
    if zone is None:
        return {"resource": {}, "output": {}}
    roles = {
        "zone": (addon_identity.zone_scope(zone), ZONE_ROLE),
        "zones": (addon_identity.group_scope(zone), GROUP_ROLE),
    }
    return addon_identity.blueprint_parts(ADDON, group, tags, roles=roles, output=CLIENT_ID_OUTPUT)


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """external-dns's service account annotations from the apply step's outputs (``applied``):
    the identity's client id. Raises when the apply returned none, rather than install
    external-dns with no permission on the zone."""
    return addon_identity.service_account_annotations(
        applied,
        CLIENT_ID_OUTPUT,
        lacking="external-dns would have no permission on the DNS zone",
        hint="The root module must output the client id of external-dns's identity when "
        "the job runs external-dns on Azure DNS; see docs/azure.md.",
    )
