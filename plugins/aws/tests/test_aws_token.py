"""EKS bearer tokens: the presigned URL inside, its header and parameters, caching."""

from __future__ import annotations

import base64
import time
import urllib.parse

from aws_support import REGION
from qengine_aws.credentials import AwsAccess
from qengine_aws.token import (
    REUSE_SECONDS,
    EksTokenProvider,
    cluster_access,
    decode_token,
)


def _query(token: str) -> dict[str, str]:
    url = urllib.parse.urlsplit(decode_token(token))
    return dict(urllib.parse.parse_qsl(url.query))


def test_token_is_a_presigned_get_caller_identity_with_the_cluster_header(
    access: AwsAccess,
) -> None:
    token = EksTokenProvider(access, "prod-eu")()
    assert token.startswith("k8s-aws-v1.")
    body = token.removeprefix("k8s-aws-v1.")
    assert "=" not in body
    assert "+" not in body
    assert "/" not in body
    query = _query(token)
    assert query["Action"] == "GetCallerIdentity"
    assert query["Version"] == "2011-06-15"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "60"
    assert query["X-Amz-SignedHeaders"] == "host;x-k8s-aws-id"
    assert f"/{REGION}/sts/aws4_request" in query["X-Amz-Credential"]


def test_token_is_cached_then_renewed(access: AwsAccess) -> None:
    now = [1000.0]
    provider = EksTokenProvider(access, "prod-eu", clock=lambda: now[0])
    first = provider()
    now[0] += REUSE_SECONDS - 1
    assert provider() == first
    now[0] += 2
    time.sleep(1.1)  # a presigned URL is dated to the second
    assert provider() != first
    assert "k8s-aws" not in repr(provider)


def test_cluster_access_carries_endpoint_ca_and_token(access: AwsAccess) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    result = cluster_access(
        access,
        endpoint="https://ABC.gr7.eu-west-3.eks.amazonaws.com",
        ca_base64=base64.b64encode(pem.encode()).decode(),
        cluster_name="prod-eu",
    )
    assert result.ca_pem == pem
    assert result.token().startswith("k8s-aws-v1.")
    assert "k8s-aws" not in repr(result)
