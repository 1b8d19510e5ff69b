"""cert-manager's identity on Google Cloud, for ACME DNS-01 in the job's Cloud DNS zone: a
service account it acts as through GKE's workload identity, allowed to write the records of
that managed zone.

When the job's issuers solve DNS-01 (``cluster.addons.acme_challenge`` ``dns01`` with a
``cloud-dns`` section, as :func:`qengine_addons.dns01_wanted` says), the blueprint adds, as
for external-dns (:mod:`qengine_gcp.dns_identity`, whose helpers and zone lookup it shares):

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

import hashlib
from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.spec import InfrastructureJob
from qengine.terraform import literal
from qengine_gcp import dns_identity
from qengine_gcp.spec import CloudDns

ADDON = "cert-manager"
ACCOUNT_OUTPUT = "cert_manager_service_account"
ZONE_ROLE = "roles/dns.admin"
#: Only without ``managed_zone``: listing the project's zones to find the challenge's.
PROJECT_ROLE = "roles/dns.reader"
MEMBER = "serviceAccount:${google_service_account.cert_manager.email}"


def dns01_zone(job: InfrastructureJob) -> CloudDns | None:
    """The job's Cloud DNS zone when its issuers solve DNS-01 in it; else None."""
    if not isinstance(job.dns, CloudDns):
        return None
    from qengine_addons import dns01_wanted

    return job.dns if dns01_wanted(job) else None


def account_id(job: InfrastructureJob) -> str:
    """The service account's id: 23 characters, the same for the cluster every time."""
    return "cert-manager-" + hashlib.sha256(job.cluster.id.encode()).hexdigest()[:10]


def blueprint_parts(job: InfrastructureJob) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the identity adds to the root module
    (empty blocks when the job's issuers do not solve DNS-01 in a Cloud DNS zone)."""
    zone = dns01_zone(job)
    if zone is None:
        return {"data": {}, "resource": {}, "output": {}}
    project = literal(zone.project)
    data: dict[str, Any] = {}
    if zone.managed_zone is None:
        data["google_dns_managed_zones"] = {"dns": {"project": project}}
    resource: dict[str, Any] = {
        "google_service_account": {
            "cert_manager": {
                "project": "${var.project_id}",
                "account_id": account_id(job),
                "display_name": "cert-manager (ACME DNS-01) of ${var.cluster_name}",
            }
        },
        "google_service_account_iam_member": {
            "cert_manager_workload_identity": {
                "service_account_id": "${google_service_account.cert_manager.name}",
                "role": dns_identity.WORKLOAD_IDENTITY_ROLE,
                "member": dns_identity.kubernetes_member("${module.gke.identity_namespace}", ADDON),
            }
        },
        "google_dns_managed_zone_iam_member": {
            "cert_manager": {
                "project": project,
                "managed_zone": dns_identity.managed_zone(zone),
                "role": ZONE_ROLE,
                "member": MEMBER,
            }
        },
    }
    if zone.managed_zone is None:
        resource["google_project_iam_member"] = {
            "cert_manager_zones": {"project": project, "role": PROJECT_ROLE, "member": MEMBER}
        }
    output = {ACCOUNT_OUTPUT: {"value": "${google_service_account.cert_manager.email}"}}
    return {"data": data, "resource": resource, "output": output}


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """cert-manager's service account annotations from the apply step's outputs: the Google
    account's e-mail. Raises when the apply returned none, rather than install issuers that
    cannot write a challenge record."""
    email = applied.get(ACCOUNT_OUTPUT, "")
    if "@" not in email:
        raise InfrastructureError(
            f"the cluster's apply returned no {ACCOUNT_OUTPUT}: cert-manager would have no "
            "permission to answer ACME DNS-01 challenges in the managed zone",
            hint="The root module must output the e-mail of cert-manager's service account "
            "when the job's issuers solve DNS-01 in Cloud DNS; see docs/gcp.md.",
        )
    return {dns_identity.ANNOTATION: email}
