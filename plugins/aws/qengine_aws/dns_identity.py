"""external-dns's identity on AWS: an IAM role it assumes through IRSA, allowed to change the
records of the job's hosted zone and nothing else.

When the job's add-on stack runs external-dns on a Route53 zone (``cluster.addons`` and the
``dns`` section decide it, as :func:`qengine_addons.addon_enabled` says), the blueprint adds:

- the role ``<cluster>-external-dns``, whose trust policy lets only the cluster's OIDC
  provider assume it, for exactly one subject (external-dns's service account in
  ``qengine-system``) and the audience ``sts.amazonaws.com``, as EKS's pod identity webhook
  asks for;
- an inline policy: ``route53:ChangeResourceRecordSets``, ``ListResourceRecordSets``,
  ``ListTagsForResource`` and ``ListTagsForResources`` on that one hosted zone, and
  ``route53:ListHostedZones`` (which takes no resource: IAM allows it on ``*`` only), which
  external-dns needs to find the zone by name. No other zone, no record outside it;
- the output ``external_dns_role_arn``.

The zone is the ``dns`` section's ``zone_id``, or the public hosted zone named ``zone``
(looked up by Terraform, as the DNS provider looks it up). The apply step returns the role's
ARN among its outputs, and the add-on step reads it from there to annotate the service
account (``eks.amazonaws.com/role-arn``): EKS then hands the pod a web identity token, which
the AWS SDK in external-dns exchanges for credentials of the role, for an hour at a time.
No key is made or stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.spec import InfrastructureJob
from qengine.terraform import OutputValue
from qengine.terraform.json_types import literal
from qengine_aws import irsa
from qengine_aws.spec import Route53Dns

ADDON = "external-dns"
ROLE_OUTPUT = "external_dns_role_arn"
ANNOTATION = irsa.ANNOTATION
ROLE_NAME = "${var.cluster_name}-external-dns"
#: What external-dns does in the zone: read and change its records, read its tags.
ZONE_ACTIONS = (
    "route53:ChangeResourceRecordSets",
    "route53:ListResourceRecordSets",
    "route53:ListTagsForResource",
    "route53:ListTagsForResources",
)
#: What takes no resource in IAM: finding the zone among the account's.
LIST_ACTIONS = ("route53:ListHostedZones",)


def external_dns_zone(job: InfrastructureJob) -> Route53Dns | None:
    """The job's Route53 zone when its add-on stack runs external-dns on it; else None."""
    if not isinstance(job.dns, Route53Dns):
        return None
    from qengine_addons import addon_enabled

    return job.dns if addon_enabled(job, ADDON) else None


def subject() -> str:
    """The one Kubernetes subject the role trusts: external-dns's service account."""
    from qengine_addons import service_account_subject

    return service_account_subject(ADDON)


def zone_arn(zone: Route53Dns) -> str:
    """The hosted zone's ARN: from its id, or from Terraform's lookup of the public zone."""
    if zone.zone_id is None:
        return "${data.aws_route53_zone.dns.arn}"
    zone_id = literal(zone.zone_id.removeprefix("/hostedzone/"))
    return f"arn:${{data.aws_partition.current.partition}}:route53:::hostedzone/{zone_id}"


def zone_lookup(zone: Route53Dns) -> dict[str, Any]:
    """The ``aws_route53_zone`` data block ``dns``: the public zone named ``zone.zone``."""
    return {"dns": {"name": literal(zone.zone), "private_zone": False}}


def trust_policy() -> dict[str, Any]:
    """The role's trust: the cluster's OIDC provider, for external-dns's service account."""
    return irsa.trust_policy(subject())


def zone_policy(zone: Route53Dns) -> dict[str, Any]:
    """The role's permissions: the zone's records and tags, and listing the zones."""
    return {
        "statement": [
            {"effect": "Allow", "actions": list(ZONE_ACTIONS), "resources": [zone_arn(zone)]},
            {"effect": "Allow", "actions": list(LIST_ACTIONS), "resources": ["*"]},
        ]
    }


def blueprint_parts(job: InfrastructureJob) -> dict[str, dict[str, Any]]:
    """The ``data``, ``resource`` and ``output`` blocks the role adds to the root module
    (empty blocks when the job runs no external-dns on Route53)."""
    zone = external_dns_zone(job)
    if zone is None:
        return {"data": {}, "resource": {}, "output": {}}
    data: dict[str, Any] = {
        "aws_iam_policy_document": {
            "external_dns_assume": trust_policy(),
            "external_dns": zone_policy(zone),
        }
    }
    if zone.zone_id is None:
        data["aws_route53_zone"] = zone_lookup(zone)
    resource, output = irsa.role_blocks(
        "external_dns", role_name=ROLE_NAME, policy_name="route53-zone", output=ROLE_OUTPUT
    )
    return {"data": data, "resource": resource, "output": output}


def role_output(outputs: Mapping[str, OutputValue]) -> dict[str, str]:
    """The role's ARN among the module's ``outputs``, as the apply step returns it:
    ``{"external_dns_role_arn": ARN}``, or nothing when the module has no such string."""
    return irsa.role_output(outputs, ROLE_OUTPUT)


def service_account_annotations(applied: Mapping[str, str]) -> dict[str, str]:
    """external-dns's service account annotations from the apply step's outputs (``applied``):
    IRSA's role ARN. Raises when the apply returned none, rather than install external-dns
    with no permission on the zone."""
    return irsa.service_account_annotations(
        applied,
        ROLE_OUTPUT,
        lacking="external-dns would have no permission on the hosted zone",
        hint="The root module must output the ARN of external-dns's IAM role when the "
        "job runs external-dns on Route53; see docs/aws.md.",
    )
