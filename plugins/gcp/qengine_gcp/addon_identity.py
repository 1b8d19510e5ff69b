"""The Google service account an add-on acts as through GKE's workload identity: the pieces
external-dns's (:mod:`qengine_gcp.dns_identity`) and cert-manager's
(:mod:`qengine_gcp.cert_manager_identity`) identities share.

For an add-on ``A`` (Terraform key ``K``: ``A`` with ``_`` for ``-``), :func:`blueprint_parts`
makes:

- the service account ``google_service_account.K``, id ``A-<10 hex>`` (a digest of the cluster
  id: account ids are 6 to 30 characters), in the cluster's project;
- ``roles/iam.workloadIdentityUser`` on it (``google_service_account_iam_member.
  K_workload_identity``) for exactly one member, the add-on's Kubernetes service account in
  the cluster's workload identity pool: no other pod can act as it;
- the add-on's role on the job's managed zone only (``google_dns_managed_zone_iam_member.K``);
- when asked, a role on the zone's project (``google_project_iam_member.K_zones``);
- the output of the account's e-mail, which the add-on step puts on the add-on's service
  account (:func:`service_account_annotations`). No key is made or stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.spec import InfrastructureJob
from qengine.terraform import literal
from qengine_gcp.spec import CloudDns

ANNOTATION = "iam.gke.io/gcp-service-account"
WORKLOAD_IDENTITY_ROLE = "roles/iam.workloadIdentityUser"
#: The workload identity pool of the blueprint's cluster.
POOL = "${module.gke.identity_namespace}"


def key(addon: str) -> str:
    """The Terraform name of ``addon``'s resources (``cert_manager`` for cert-manager)."""
    return addon.replace("-", "_")


def member(addon: str) -> str:
    """The IAM member of ``addon``'s Google service account."""
    return f"serviceAccount:${{google_service_account.{key(addon)}.email}}"


def account_id(job: InfrastructureJob, addon: str) -> str:
    """The service account's id of ``addon``: the same for the cluster every time."""
    return f"{addon}-" + hashlib.sha256(job.cluster.id.encode()).hexdigest()[:10]


def kubernetes_member(pool: str, addon: str) -> str:
    """The IAM member of the Kubernetes service account of ``addon`` in the workload identity
    ``pool`` (``<project>.svc.id.goog``)."""
    from qengine_addons import service_account_subject

    namespace, name = service_account_subject(addon).split(":")[2:4]
    return f"serviceAccount:{pool}[{namespace}/{name}]"


def managed_zone(zone: CloudDns) -> str:
    """The managed zone's resource name: given, or Terraform's lookup of the public zone."""
    if zone.managed_zone is not None:
        return literal(zone.managed_zone)
    # A DomainName holds letters, digits, dots and hyphens only: safe inside the expression.
    dns_name = zone.zone.removesuffix(".") + "."
    return (
        "${one([for z in data.google_dns_managed_zones.dns.managed_zones : z.name "
        f'if z.dns_name == "{dns_name}" && z.visibility == "public"])}}'
    )


def blueprint_parts(
    job: InfrastructureJob,
    zone: CloudDns,
    *,
    addon: str,
    purpose: str,
    zone_role: str,
    project_role: str | None,
    output: str,
) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks of ``addon``'s identity on ``zone``:
    the account (displayed as ``<purpose> of <cluster>``), ``zone_role`` on the zone,
    ``project_role`` on the zone's project unless None, and the e-mail as ``output``."""
    name = key(addon)
    project = literal(zone.project)
    data: dict[str, Any] = {}
    if zone.managed_zone is None:
        data["google_dns_managed_zones"] = {"dns": {"project": project}}
    resource: dict[str, Any] = {
        "google_service_account": {
            name: {
                "project": "${var.project_id}",
                "account_id": account_id(job, addon),
                "display_name": f"{purpose} of ${{var.cluster_name}}",
            }
        },
        "google_service_account_iam_member": {
            f"{name}_workload_identity": {
                "service_account_id": f"${{google_service_account.{name}.name}}",
                "role": WORKLOAD_IDENTITY_ROLE,
                "member": kubernetes_member(POOL, addon),
            }
        },
        "google_dns_managed_zone_iam_member": {
            name: {
                "project": project,
                "managed_zone": managed_zone(zone),
                "role": zone_role,
                "member": member(addon),
            }
        },
    }
    if project_role is not None:
        resource["google_project_iam_member"] = {
            f"{name}_zones": {"project": project, "role": project_role, "member": member(addon)}
        }
    value = f"${{google_service_account.{name}.email}}"
    return {"data": data, "resource": resource, "output": {output: {"value": value}}}


def service_account_annotations(
    applied: Mapping[str, str], output: str, *, lacking: str, hint: str
) -> dict[str, str]:
    """The add-on's service account annotations from the apply step's outputs (``applied``):
    the e-mail in ``output``. Raises when the apply returned none, rather than install the
    add-on with no permission; ``lacking`` ends the error's message (what the add-on lacks)."""
    email = applied.get(output, "")
    if "@" not in email:
        raise InfrastructureError(f"the cluster's apply returned no {output}: {lacking}", hint=hint)
    return {ANNOTATION: email}
