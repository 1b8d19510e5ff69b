"""qengine-gcp: GKE Standard clusters on Google Cloud, through Terraform."""

from qengine_gcp.spec import (
    AuthorizedNetwork,
    CloudDns,
    GcpProvider,
    NetworkRanges,
    NodePool,
    StateBucket,
    WorkloadIdentityFederation,
)

__all__ = [
    "AuthorizedNetwork",
    "CloudDns",
    "GcpProvider",
    "NetworkRanges",
    "NodePool",
    "StateBucket",
    "WorkloadIdentityFederation",
]
