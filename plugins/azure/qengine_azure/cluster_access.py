"""The access to an AKS cluster an applying step's outputs describe: endpoint, CA, and a token
provider in memory.

The blueprint turns local accounts off and uses Microsoft Entra ID authentication with Azure
RBAC, so the API server accepts an Entra access token for the AKS server application
(:data:`AKS_SCOPE`), what ``kubelogin`` hands kubectl. The provider is the job's own
azure-identity credential: short-lived, renewed as it nears its expiry, never written
anywhere. The identity needs an Azure Kubernetes Service RBAC role on the cluster.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from qengine.plugin import ClusterAccess, InvalidInputError
from qengine_azure.credentials import AzureAccess

#: The token scope of AKS's Microsoft Entra server application (the same in every tenant).
AKS_SCOPE = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"
#: The outputs an applying step returns that are not the endpoint and CA, given as ``extra``.
EXTRA = (
    "cluster_name",
    "cluster_id",
    "location",
    "cluster_version",
    "resource_group",
    "node_resource_group",
    "oidc_issuer_url",
)


def cluster_access_of(access: AzureAccess, outputs: Mapping[str, str]) -> ClusterAccess:
    """The :class:`ClusterAccess` of the cluster in ``outputs`` (``JobResult.outputs`` of
    ``azure.apply``), with tokens from ``access``."""
    endpoint, ca = outputs.get("endpoint", ""), outputs.get("certificate_authority", "")
    if not endpoint.startswith("https://") or not ca:
        raise InvalidInputError(
            "these outputs describe no reachable cluster (no https endpoint or no CA)",
            hint="Give the outputs of an azure.apply step of a create, upgrade or resume job.",
        )

    def token() -> str:
        return access.credential().get_token(AKS_SCOPE).token

    return ClusterAccess(
        endpoint=endpoint,
        ca_pem=base64.b64decode(ca).decode("ascii"),
        token=token,
        extra={name: outputs[name] for name in EXTRA if name in outputs},
    )
