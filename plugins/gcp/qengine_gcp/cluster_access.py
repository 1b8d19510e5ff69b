"""The access to a GKE cluster an applying step's outputs describe: endpoint, CA, and a
token provider in memory.

GKE accepts a Google OAuth 2.0 access token with the ``cloud-platform`` scope as a bearer
token (what ``gke-gcloud-auth-plugin`` hands kubectl). The provider is the job's own
credentials' :meth:`GcpAccess.token`: short-lived, renewed five minutes before it ends, never
written anywhere. The identity it carries is the impersonated service account, which needs a
Kubernetes role in the cluster (``roles/container.developer`` or an RBAC binding).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from qengine.plugin import ClusterAccess, InvalidInputError
from qengine_gcp.credentials import GcpAccess

#: The outputs an applying step returns that are not the endpoint and CA, given as ``extra``.
EXTRA = ("cluster_name", "location", "cluster_version", "workload_identity_pool")


def cluster_access_of(access: GcpAccess, outputs: Mapping[str, str]) -> ClusterAccess:
    """The :class:`ClusterAccess` of the cluster in ``outputs`` (``JobResult.outputs`` of
    ``gcp.apply``), with tokens from ``access``."""
    endpoint, ca = outputs.get("endpoint", ""), outputs.get("certificate_authority", "")
    if not endpoint.startswith("https://") or not ca:
        raise InvalidInputError(
            "these outputs describe no reachable cluster (no https endpoint or no CA)",
            hint="Give the outputs of a gcp.apply step of a create, upgrade or resume job.",
        )

    def token() -> str:
        return access.token().reveal()

    return ClusterAccess(
        endpoint=endpoint,
        ca_pem=base64.b64decode(ca).decode("ascii"),
        token=token,
        extra={name: outputs[name] for name in EXTRA if name in outputs},
    )
