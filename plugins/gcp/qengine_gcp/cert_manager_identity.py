"""cert-manager's identity on Google Cloud, for ACME DNS-01 in the job's Cloud DNS zone: a
service account it acts as through GKE's workload identity, allowed to write the records of
that managed zone.

When the job's issuers solve DNS-01 (``cluster.addons.acme_challenge`` ``dns01`` with a
``cloud-dns`` section, as :func:`qengine_addons.dns01_wanted` says), the blueprint adds, as
for external-dns (both made by :mod:`qengine_gcp.addon_identity`):

- the Google service account ``cert-manager-<10 hex>`` in the cluster's project;
- ``roles/iam.workloadIdentityUser`` on it for exactly one member, the Kubernetes service
  account ``qengine-system/cert-manager`` of the cluster's workload identity pool;
- ``roles/dns.admin`` on the job's managed zone only: the solver lists the zone's record sets,
  creates a change (the challenge's TXT record) and reads it until done, all calls on that
  zone (``dns.resourceRecordSets.list``, ``dns.changes.create``, ``dns.changes.get``);
- only when the spec gives no ``managed_zone``: ``roles/dns.reader`` on the zone's project,
  as cert-manager then lists the project's managed zones to find the challenge's
  (``dns.managedZones.list``, which a binding on a zone cannot give); with ``managed_zone``
  the solver names it (``hostedZoneName``) and needs no project role;
- the output ``cert_manager_service_account`` (the account's e-mail), which the add-on step
  puts on cert-manager's service account (``iam.gke.io/gcp-service-account``). The issuers'
  solver names no key (``serviceAccountSecretRef`` unset): the controller's ambient
  credentials are the account's short-lived tokens from GKE's metadata server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_gcp import addon_identity
from qengine_gcp.spec import CloudDns

ADDON = "cert-manager"
ACCOUNT_OUTPUT = "cert_manager_service_account"
ZONE_ROLE = "roles/dns.admin"
#: Only without ``managed_zone``: listing the project's zones to find the challenge's.
PROJECT_ROLE = "roles/dns.reader"


def dns01_zone(job: InfrastructureJob) -> CloudDns | None:
    """The job's Cloud DNS zone when its issuers solve DNS-01 in it; else None."""
    if not isinstance(job.dns, CloudDns):
        return None
    from qengine_addons import dns01_wanted

    return job.dns if dns01_wanted(job) else None


def project_role(zone: CloudDns) -> str | None:
    """The role cert-manager gets on the zone's project: :data:`PROJECT_ROLE` when the spec
    names no ``managed_zone`` (the solver then lists the project's zones), else None."""
    return PROJECT_ROLE if zone.managed_zone is None else None


def blueprint_parts(job: InfrastructureJob) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the identity adds to the root module
    (empty blocks when the job's issuers do not solve DNS-01 in a Cloud DNS zone)."""
    zone = dns01_zone(job)
    if zone is None:
        return {"data": {}, "resource": {}, "output": {}}
    return addon_identity.blueprint_parts(
        job,
        zone,
        addon=ADDON,
        purpose="cert-manager (ACME DNS-01)",
        zone_role=ZONE_ROLE,
        project_role=project_role(zone),
        output=ACCOUNT_OUTPUT,
    )


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """cert-manager's service account annotations from the apply step's outputs: the Google
    account's e-mail. Raises when the apply returned none, rather than install issuers that
    cannot write a challenge record."""
    return addon_identity.service_account_annotations(
        applied,
        ACCOUNT_OUTPUT,
        lacking="cert-manager would have no permission to answer ACME DNS-01 challenges in "
        "the managed zone",
        hint="The root module must output the e-mail of cert-manager's service account "
        "when the job's issuers solve DNS-01 in Cloud DNS; see docs/gcp.md.",
    )
