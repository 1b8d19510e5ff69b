"""external-dns's identity on Google Cloud: a service account it acts as through GKE's workload
identity, allowed to change the records of the job's managed zone.

When the job's add-on stack runs external-dns on a Cloud DNS zone (``cluster.addons`` and the
``dns`` section decide it, as :func:`qengine_addons.addon_enabled` says), the blueprint adds:

- the Google service account ``external-dns-<10 hex>`` (a digest of the cluster id: account
  ids are 6 to 30 characters) in the cluster's project;
- ``roles/iam.workloadIdentityUser`` on that account for exactly one member, the Kubernetes
  service account ``qengine-system/external-dns`` of the cluster's workload identity pool
  (``serviceAccount:<project>.svc.id.goog[qengine-system/external-dns]``): no other pod can
  act as it;
- ``roles/dns.admin`` on the job's managed zone only (a binding on the zone, not the project):
  its records can be read and changed, no other zone's;
- ``roles/dns.reader`` on the zone's project: external-dns lists the project's managed zones
  to find the one its domain filter names, and Cloud DNS has no predefined role that lists
  zones without reading their records (a custom role would, but a deleted custom role's id
  cannot be used again for weeks, which a cluster deleted and created again would hit);
- the output ``external_dns_service_account`` (the account's e-mail).

The blocks are :mod:`qengine_gcp.addon_identity`'s, as for cert-manager's identity.

The zone is the ``dns`` section's ``managed_zone``, or the public managed zone whose DNS name
is ``zone`` (Terraform's ``google_dns_managed_zones`` of the zone's project, filtered as the DNS
provider filters). The add-on step puts the e-mail on external-dns's service account
(``iam.gke.io/gcp-service-account``); GKE's metadata server then gives the pod short-lived
tokens of the Google account. No key is made or stored. The zone's project may be another
than the cluster's: the grants are there, and the add-on's values name it to external-dns
(``--google-project``; :func:`qengine_addons.addon_values`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine_gcp import addon_identity
from qengine_gcp.spec import CloudDns

ADDON = "external-dns"
ACCOUNT_OUTPUT = "external_dns_service_account"
#: The zone's own role, bound on the zone: its records, read and changed.
ZONE_ROLE = "roles/dns.admin"
#: The project's role: listing the managed zones (external-dns finds its zone so).
PROJECT_ROLE = "roles/dns.reader"


def external_dns_zone(job: InfrastructureJob) -> CloudDns | None:
    """The job's Cloud DNS zone when its add-on stack runs external-dns on it; else None."""
    if not isinstance(job.dns, CloudDns):
        return None
    from qengine_addons import addon_enabled

    return job.dns if addon_enabled(job, ADDON) else None


def blueprint_parts(job: InfrastructureJob) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the identity adds to the root module
    (empty blocks when the job runs no external-dns on Cloud DNS)."""
    zone = external_dns_zone(job)
    if zone is None:
        return {"data": {}, "resource": {}, "output": {}}
    return addon_identity.blueprint_parts(
        job,
        zone,
        addon=ADDON,
        purpose="external-dns",
        zone_role=ZONE_ROLE,
        project_role=PROJECT_ROLE,
        output=ACCOUNT_OUTPUT,
    )


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """external-dns's service account annotations from the apply step's outputs (``applied``):
    the Google account's e-mail. Raises when the apply returned none, rather than install
    external-dns with no permission on the zone."""
    return addon_identity.service_account_annotations(
        applied,
        ACCOUNT_OUTPUT,
        lacking="external-dns would have no permission on the managed zone",
        hint="The root module must output the e-mail of external-dns's service account "
        "when the job runs external-dns on Cloud DNS; see docs/gcp.md.",
    )
