"""IAM roles for service accounts (IRSA): the pieces every role of the EKS blueprint shares.

A role is trusted only by one Kubernetes service account (``system:serviceaccount:NS:NAME``)
through the cluster's OIDC provider, for STS's audience; it carries one inline policy, and its
ARN is an output of the root module that the apply step returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qengine.terraform import OutputValue

ISSUER = "${module.eks.oidc_provider}"


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
