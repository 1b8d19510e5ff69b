"""qengine-gcp: GKE Standard clusters on Google Cloud, through Terraform."""

from qengine_gcp.spec import (
    ArtifactRegistry,
    AuthorizedNetwork,
    CloudDns,
    GcpProvider,
    NetworkRanges,
    NodePool,
    StateBucket,
    WorkloadIdentityFederation,
)

__all__ = [
    "ArtifactRegistry",
    "AuthorizedNetwork",
    "CloudDns",
    "GcpProvider",
    "NetworkRanges",
    "NodePool",
    "StateBucket",
    "WorkloadIdentityFederation",
]
