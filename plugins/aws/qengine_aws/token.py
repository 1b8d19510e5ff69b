"""EKS bearer tokens, made as ``aws eks get-token`` makes them, and the cluster's access.

A token is ``k8s-aws-v1.`` followed by the unpadded base64url of a presigned STS
``GetCallerIdentity`` URL whose signature covers the header ``x-k8s-aws-id: <cluster name>``.
The API server's authenticator calls that URL and learns who we are. EKS accepts a token for
15 minutes; :class:`EksTokenProvider` hands out the same token for 10 minutes and then makes a
new one, so a caller never holds one about to expire. Tokens stay in memory.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from qengine.plugin import ClusterAccess
from qengine_aws.cluster_outputs import ClusterOutputs
from qengine_aws.credentials import AwsAccess

PREFIX = "k8s-aws-v1."
CLUSTER_HEADER = "x-k8s-aws-id"
#: The presigned URL's own validity (as the AWS CLI signs it); EKS honours tokens 15 minutes.
URL_EXPIRES_SECONDS = 60
TOKEN_LIFETIME_SECONDS = 15 * 60
REUSE_SECONDS = 10 * 60


def presigned_identity_url(access: AwsAccess, cluster_name: str) -> str:
    """A presigned ``sts:GetCallerIdentity`` URL whose signature covers the cluster header."""
    sts = access.client("sts")

    def add_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_HEADER] = cluster_name

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", add_header)
    with access.call("presigning sts:GetCallerIdentity for an EKS token"):
        url: str = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=URL_EXPIRES_SECONDS, HttpMethod="GET"
        )
    return url


def encode_token(url: str) -> str:
    """The bearer token of a presigned URL."""
    return PREFIX + base64.urlsafe_b64encode(url.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str) -> str:
    """The presigned URL inside a token (for tests and diagnostics)."""
    body = token.removeprefix(PREFIX)
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")


class EksTokenProvider:
    """A callable returning a valid bearer token for one cluster, cached and renewed."""

    def __init__(
        self,
        access: AwsAccess,
        cluster_name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._access = access
        self._cluster = cluster_name
        self._clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._made_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if not self._token or now - self._made_at >= REUSE_SECONDS:
                self._token = encode_token(presigned_identity_url(self._access, self._cluster))
                self._made_at = now
            return self._token

    def __repr__(self) -> str:
        return f"EksTokenProvider(cluster={self._cluster!r})"


def cluster_access(
    access: AwsAccess, *, endpoint: str, ca_base64: str, cluster_name: str
) -> ClusterAccess:
    """The :class:`ClusterAccess` of an EKS cluster from its Terraform outputs."""
    ca_pem = base64.b64decode(ca_base64).decode("ascii")
    return ClusterAccess(
        endpoint=endpoint,
        ca_pem=ca_pem,
        token=EksTokenProvider(access, cluster_name),
        extra={"cluster_name": cluster_name, "region": access.region},
    )


def cluster_access_of(access: AwsAccess, outputs: Mapping[str, str]) -> ClusterAccess:
    """The :class:`ClusterAccess` of the cluster an applying step's outputs describe
    (``aws.apply``, ``aws.upgrade-node-groups``: ``JobResult.outputs[step id]``), with an EKS
    token made by ``access`` and, in ``extra``, the cluster's name, region and OIDC issuer."""
    applied = ClusterOutputs.of_step(outputs)
    found = cluster_access(
        access,
        endpoint=applied.endpoint,
        ca_base64=applied.certificate_authority,
        cluster_name=applied.cluster_name,
    )
    return ClusterAccess(
        endpoint=found.endpoint,
        ca_pem=found.ca_pem,
        token=found.token,
        extra={**found.extra, "oidc_issuer_url": applied.oidc_issuer_url},
    )
