"""cert-manager's identity on AWS, for ACME DNS-01 in the job's Route53 zone: an IAM role it
assumes through IRSA, allowed to write the challenge records of that zone and nothing else.

When the job's issuers solve DNS-01 (``cluster.addons.acme_challenge`` ``dns01`` with a
Route53 ``dns`` section, as :func:`qengine_addons.dns01_wanted` says), the blueprint adds, as
for external-dns (:mod:`qengine_aws.dns_identity`, whose zone lookup it shares):

- the role ``<cluster>-cert-manager``, whose trust policy lets only the cluster's OIDC provider
  assume it, for exactly one subject (cert-manager's service account in ``qengine-system``)
  and the audience ``sts.amazonaws.com``;
- an inline policy: ``route53:ChangeResourceRecordSets`` and ``ListResourceRecordSets`` on
  that one hosted zone; ``route53:GetChange`` on ``change/*`` (a change's id is known only
  once made: cert-manager polls it until ``INSYNC``); ``route53:ListHostedZonesByName`` on
  ``*`` (IAM takes no resource for it; cert-manager finds the zone by name when the spec
  gives no ``zone_id``). No other zone, no other API;
- the output ``cert_manager_role_arn``, which the add-on step puts on cert-manager's service
  account (``eks.amazonaws.com/role-arn``). The issuers' solver names no credential: the
  controller's ambient credentials (the web identity token EKS projects) are the role's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine.terraform import OutputValue
from qengine_aws import dns_identity, irsa
from qengine_aws.spec import Route53Dns

ADDON = "cert-manager"
ROLE_OUTPUT = "cert_manager_role_arn"
ROLE_NAME = "${var.cluster_name}-cert-manager"
#: What the DNS-01 solver does in the zone: write the challenge's TXT record, and find it.
ZONE_ACTIONS = ("route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets")
#: Polling the change it made until Route53 reports it in sync.
CHANGE_ACTIONS = ("route53:GetChange",)
#: What takes no resource in IAM: finding the zone by the challenge's name.
LIST_ACTIONS = ("route53:ListHostedZonesByName",)
CHANGE_ARN = "arn:${data.aws_partition.current.partition}:route53:::change/*"


def dns01_zone(job: InfrastructureJob) -> Route53Dns | None:
    """The job's Route53 zone when its issuers solve DNS-01 in it; else None."""
    if not isinstance(job.dns, Route53Dns):
        return None
    from qengine_addons import dns01_wanted

    return job.dns if dns01_wanted(job) else None


def subject() -> str:
    """The one Kubernetes subject the role trusts: cert-manager's service account."""
    from qengine_addons import service_account_subject

    return service_account_subject(ADDON)


def zone_policy(zone: Route53Dns) -> dict[str, Any]:
    """The role's permissions: the zone's records, its changes, finding zones by name."""
    return {
        "statement": [
            {
                "effect": "Allow",
                "actions": list(ZONE_ACTIONS),
                "resources": [dns_identity.zone_arn(zone)],
            },
            {"effect": "Allow", "actions": list(CHANGE_ACTIONS), "resources": [CHANGE_ARN]},
            {"effect": "Allow", "actions": list(LIST_ACTIONS), "resources": ["*"]},
        ]
    }


def blueprint_parts(job: InfrastructureJob) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the role adds to the root module
    (empty blocks when the job's issuers do not solve DNS-01 in a Route53 zone)."""
    zone = dns01_zone(job)
    if zone is None:
        return {"data": {}, "resource": {}, "output": {}}
    data: dict[str, Any] = {
        "aws_iam_policy_document": {
            "cert_manager_assume": irsa.trust_policy(subject()),
            "cert_manager": zone_policy(zone),
        }
    }
    if zone.zone_id is None:
        # The same lookup external-dns's role uses (one data block for both).
        data["aws_route53_zone"] = dns_identity.zone_lookup(zone)
    resource, output = irsa.role_blocks(
        "cert_manager", role_name=ROLE_NAME, policy_name="route53-acme-dns01", output=ROLE_OUTPUT
    )
    return {"data": data, "resource": resource, "output": output}


def role_output(outputs: Mapping[str, OutputValue]) -> dict[str, str]:
    """The role's ARN among the module's ``outputs``: ``{"cert_manager_role_arn": ARN}``, or
    nothing when the module has no such string."""
    return irsa.role_output(outputs, ROLE_OUTPUT)


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """cert-manager's service account annotations from the apply step's outputs: IRSA's role
    ARN. Raises when the apply returned none, rather than install issuers that cannot write
    a challenge record."""
    return irsa.service_account_annotations(
        applied,
        ROLE_OUTPUT,
        lacking="cert-manager would have no permission to answer ACME DNS-01 challenges in "
        "the hosted zone",
        hint="The root module must output the ARN of cert-manager's IAM role when the job's "
        "issuers solve DNS-01 in Route53; see docs/aws.md.",
    )
