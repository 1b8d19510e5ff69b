"""IAM roles for service accounts (IRSA): the pieces every role of the EKS blueprint shares.

A role is trusted only by one Kubernetes service account (``system:serviceaccount:NS:NAME``)
through the cluster's OIDC provider, for STS's audience; it carries one inline policy, and its
ARN is an output of the root module that the apply step returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError
from qengine.terraform import OutputValue

ISSUER = "${module.eks.oidc_provider}"
#: The service account annotation that names the role IRSA's webhook gives the pods.
ANNOTATION = "eks.amazonaws.com/role-arn"


def trust_policy(subject: str) -> dict[str, Any]:
    """An ``aws_iam_policy_document`` trusting the cluster's OIDC provider for ``subject``."""
    return {
        "statement": [
            {
                "effect": "Allow",
                "actions": ["sts:AssumeRoleWithWebIdentity"],
                "principals": [
                    {"type": "Federated", "identifiers": ["${module.eks.oidc_provider_arn}"]}
                ],
                "condition": [
                    {"test": "StringEquals", "variable": f"{ISSUER}:sub", "values": [subject]},
                    {
                        "test": "StringEquals",
                        "variable": f"{ISSUER}:aud",
                        "values": ["sts.amazonaws.com"],
                    },
                ],
            }
        ]
    }


def role_blocks(
    key: str, *, role_name: str, policy_name: str, output: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``resource`` and ``output`` blocks of the role ``key``: an ``aws_iam_role`` assumed
    through ``data.aws_iam_policy_document.<key>_assume``, its inline ``policy_name`` from
    ``data.aws_iam_policy_document.<key>``, and its ARN as the output ``output``."""
    resource = {
        "aws_iam_role": {
            key: {
                "name": role_name,
                "assume_role_policy": f"${{data.aws_iam_policy_document.{key}_assume.json}}",
            }
        },
        "aws_iam_role_policy": {
            key: {
                "name": policy_name,
                "role": f"${{aws_iam_role.{key}.id}}",
                "policy": f"${{data.aws_iam_policy_document.{key}.json}}",
            }
        },
    }
    return resource, {output: {"value": f"${{aws_iam_role.{key}.arn}}"}}


def role_output(outputs: Mapping[str, OutputValue], name: str) -> dict[str, str]:
    """``{name: ARN}`` from the module's ``outputs``, or nothing when it has no such string."""
    output = outputs.get(name)
    if output is None or output.sensitive or not isinstance(output.value, str):
        return {}
    return {name: output.value}


def service_account_annotations(
    applied: Mapping[str, str], name: str, *, lacking: str, hint: str
) -> dict[str, str]:
    """The add-on's service account annotations from the apply step's outputs (``applied``):
    the role ARN in the output ``name``. Raises when the apply returned none, rather than
    install the add-on with no permission; ``lacking`` ends the error's message."""
    arn = applied.get(name, "")
    if not arn.startswith("arn:"):
        raise InfrastructureError(f"the cluster's apply returned no {name}: {lacking}", hint=hint)
    return {ANNOTATION: arn}
