"""qengine-aws: EKS clusters, ECR registries, Route53 DNS on AWS."""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qengine_aws.spec import (
        AwsProvider,
        EcrRegistry,
        NodeGroup,
        Route53Dns,
        StateBackend,
    )

__all__ = [
    "AwsProvider",
    "EcrRegistry",
    "NodeGroup",
    "Route53Dns",
    "StateBackend",
]


def __getattr__(name: str) -> object:
    # Imported on first use: loading the plugin to validate a job without any of its
    # sections does not build its section classes.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("qengine_aws.spec"), name)
    globals()[name] = value
    return value
