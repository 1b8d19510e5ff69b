"""cert-manager's identity on Azure, for ACME DNS-01 in the job's Azure DNS zone: a
user-assigned managed identity it signs in as through AKS's workload identity, allowed to
change the record sets of that zone.

When the job's issuers solve DNS-01 (``cluster.addons.acme_challenge`` ``dns01`` with an
``azure-dns`` section, as :func:`qengine_addons.dns01_wanted` says), the blueprint adds, as for
external-dns (both made by :mod:`qengine_azure.addon_identity`):

- the identity ``<cluster>-cert-manager`` in the cluster's resource group;
- a federated identity credential on it trusting exactly one token: the cluster's OIDC issuer,
  the subject ``system:serviceaccount:qengine-system:cert-manager`` and the audience
  ``api://AzureADTokenExchange``;
- the role ``DNS Zone Contributor`` on the job's zone only. Unlike external-dns it needs no
  Reader on the resource group: the issuers' solver names the zone (``hostedZoneName``) and
  its resource group, so cert-manager lists no zones; it reads, creates and deletes the
  challenge's TXT record set in that zone;
- the output ``cert_manager_client_id``, which the add-on steps put on cert-manager's service
  account (``azure.workload.identity/client-id``) and in the solver's
  ``managedIdentity.clientID``; the controller's pods carry the label the workload identity
  webhook looks for. No secret is made or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_azure import addon_identity
from qengine_azure.spec import AzureDns

ADDON = "cert-manager"
CLIENT_ID_OUTPUT = "cert_manager_client_id"
ZONE_ROLE = "DNS Zone Contributor"


def dns01_zone(job: InfrastructureJob) -> AzureDns | None:
    """The job's Azure DNS zone when its issuers solve DNS-01 in it; else None."""
    if not isinstance(job.dns, AzureDns):
        return None
    from qengine_addons import dns01_wanted

    return job.dns if dns01_wanted(job) else None


def blueprint_parts(
    job: InfrastructureJob, group: str, tags: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """The ``resource`` and ``output`` blocks the identity adds to the root module (empty when
    the job's issuers do not solve DNS-01 in an Azure DNS zone). ``group``: the Terraform
    address of the cluster's resource group; ``tags``: the cluster's tags."""
    zone = dns01_zone(job)
    if zone is None:
        return {"resource": {}, "output": {}}
    roles = {"zone": (addon_identity.zone_scope(zone), ZONE_ROLE)}
    return addon_identity.blueprint_parts(ADDON, group, tags, roles=roles, output=CLIENT_ID_OUTPUT)


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """cert-manager's service account annotations from the apply step's outputs: the
    identity's client id. Raises when the apply returned none, rather than install issuers
    that cannot write a challenge record."""
    return addon_identity.service_account_annotations(
        applied,
        CLIENT_ID_OUTPUT,
        lacking="cert-manager would have no permission to answer ACME DNS-01 challenges in "
        "the DNS zone",
        hint="The root module must output the client id of cert-manager's identity when "
        "the job's issuers solve DNS-01 in Azure DNS; see docs/azure.md.",
    )
