"""qengine-gcp: GKE Standard clusters on Google Cloud, through Terraform."""

from qengine_gcp.spec import (
    AuthorizedNetwork,
    GcpProvider,
    NetworkRanges,
    NodePool,
    StateBucket,
    WorkloadIdentityFederation,
)

__all__ = [
    "AuthorizedNetwork",
    "GcpProvider",
    "NetworkRanges",
    "NodePool",
    "StateBucket",
    "WorkloadIdentityFederation",
]
