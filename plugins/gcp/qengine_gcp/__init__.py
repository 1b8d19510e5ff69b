"""qengine-gcp: GKE Standard clusters on Google Cloud, through Terraform."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


def __getattr__(name: str) -> object:
    # Imported on first use: loading the plugin to validate a job without any of its
    # sections does not build its section classes.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("qengine_gcp.spec"), name)
    globals()[name] = value
    return value
