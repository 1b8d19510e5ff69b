"""Running the job's root module with the core Terraform driver, AWS keys from an endpoint.

Terraform gets no AWS keys in its environment: a credential endpoint of the run (see
:mod:`qengine_aws.credential_endpoint`) answers the job's current keys, so they are renewed
for as long as the run lasts. The driver gets the endpoint's token as ``credentials=`` (masked
in everything it reports), the endpoint's URI and the region as plain ``env=``, the backend
settings of the cluster's state object, and a destructive-change guard that also protects the
AWS types the blueprint declares. Terraform's lines become the step's log lines (the engine
redacts them).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qengine.runner import StepContext
from qengine.terraform import DestructiveGuard, LogLine, ProviderSources, Terraform, Workspace
from qengine.terraform.json_types import Json
from qengine_aws.credential_endpoint import CredentialEndpoint
from qengine_aws.credentials import AwsAccess
from qengine_aws.state_backend import StateLocation

#: Besides the core's defaults (clusters, node groups, state storage, keys, databases).
#: What the destructive-change guard refuses to delete or replace outside a delete job: the
#: cluster and its node groups, the network, state storage, keys and databases (the core
#: protects no cloud's types by itself).
PROTECTED = (
    "aws_eks_cluster",
    "aws_eks_node_group",
    "aws_vpc",
    "aws_s3_bucket",
    "aws_dynamodb_table",
    "aws_kms_key",
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_rds_cluster_instance",
    "aws_elasticache_replication_group",
)


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
    providers come from ``sources`` (the engine's Terraform settings).

    The run's credential endpoint lives exactly as long as the workspace.
    """

    def on_line(line: LogLine) -> None:
        ctx.emit_log(line.text)

    guard = DestructiveGuard(allow_destructive=allow_destructive).protecting(PROTECTED)
    lease = access.settings.credential_lease_seconds
    with CredentialEndpoint(access.current_keys, lease_seconds=lease) as endpoint:
        child = endpoint.child_environment(access.region)
        with Workspace.create(sources=sources) as workspace:
            workspace.write_root_module(module)
            tf = Terraform(
                workspace,
                cancel=ctx.cancel,
                on_line=on_line,
                credentials=child.secret,
                env=child.plain,
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
