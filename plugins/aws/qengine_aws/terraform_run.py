"""Running the job's root module with the core Terraform driver, AWS credentials in its env.

The driver gets the job's credentials as ``credentials=`` (its subprocess environment only;
masked in everything it reports), the region as plain ``env=``, the backend settings of the
cluster's state object, and a destructive-change guard that also protects the AWS types the
blueprint declares. Terraform's lines become the step's log lines (the engine redacts them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qengine.runner import StepContext
from qengine.terraform import DestructiveGuard, LogLine, ProviderSources, Terraform, Workspace
from qengine.terraform.json_types import Json
from qengine_aws.credentials import AwsAccess
from qengine_aws.state_backend import StateLocation

#: Besides the core's defaults (clusters, node groups, state storage, keys, databases).
PROTECTED = ("aws_eks_cluster", "aws_eks_node_group", "aws_kms_key", "aws_vpc")
_SECRET_NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def backend_config(location: StateLocation, endpoint_url: str | None) -> dict[str, Json]:
    """The S3 backend settings; with an endpoint (moto), the overrides it needs."""
    config: dict[str, Json] = dict(location.backend_config())
    if endpoint_url is not None:
        config.update(
            {
                "endpoints": {"s3": endpoint_url, "dynamodb": endpoint_url, "sts": endpoint_url},
                "use_path_style": True,
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
            }
        )
    return config


def split_env(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The child environment split into credentials (masked) and plain settings."""
    secret = {k: v for k, v in env.items() if k in _SECRET_NAMES}
    plain = {k: v for k, v in env.items() if k not in _SECRET_NAMES}
    return secret, plain


@contextmanager
def terraform_for(
    ctx: StepContext,
    access: AwsAccess,
    module: dict[str, Any],
    location: StateLocation,
    *,
    allow_destructive: bool,
    sources: ProviderSources,
) -> Iterator[Terraform]:
    """An initialised driver over ``module`` in a fresh workspace (removed on exit), whose
    providers come from ``sources`` (the engine's Terraform settings)."""
    credentials, plain = split_env(access.child_env())

    def on_line(line: LogLine) -> None:
        ctx.emit_log(line.text)

    guard = DestructiveGuard(allow_destructive=allow_destructive).protecting(PROTECTED)
    with Workspace.create(sources=sources) as workspace:
        workspace.write_root_module(module)
        tf = Terraform(
            workspace,
            cancel=ctx.cancel,
            on_line=on_line,
            credentials=credentials,
            env=plain,
            guard=guard,
        )
        tf.init(backend_config(location, access.settings.endpoint_url))
        yield tf


def string_outputs(tf: Terraform) -> dict[str, str]:
    """The root module's outputs that are strings (the cluster's access details)."""
    return {
        name: output.value
        for name, output in tf.outputs().items()
        if isinstance(output.value, str) and not output.sensitive
    }
