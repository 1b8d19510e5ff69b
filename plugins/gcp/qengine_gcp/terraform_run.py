"""Running the job's root module with the core Terraform driver, on the ``gcs`` backend.

Terraform gets no token in its environment: a metadata endpoint of the run (see
:mod:`qengine_gcp.token_endpoint`) answers the job's current access token, so it is renewed
for as long as the run lasts; both the ``gcs`` backend and the google provider ask it. The
driver gets the endpoint's address (whose path is the secret) as ``credentials=``, masked in
everything it reports. The backend settings are the cluster's bucket and prefix, and, for a
local Cloud Storage, ``storage_custom_endpoint``. The destructive-change guard also protects
the Google types the blueprint declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qengine.plugin import AuthError
from qengine.runner import StepContext
from qengine.terraform import (
    DestructiveGuard,
    LockInfo,
    LogLine,
    ProviderSources,
    StateLockedError,
    Terraform,
    TerraformError,
    Workspace,
)
from qengine.terraform.json_types import Json
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.state_backend import StateLocation
from qengine_gcp.token_endpoint import TokenEndpoint

#: What the destructive-change guard refuses to delete or replace outside a delete job.
PROTECTED = (
    "google_container_cluster",
    "google_container_node_pool",
    "google_compute_network",
    "google_compute_subnetwork",
    "google_storage_bucket",
    "google_kms_crypto_key",
    "google_sql_database_instance",
)
#: The gcs backend creates the lock object before it reads a state that does not exist yet;
#: when another run holds it, the failure reads as a state load error, not a lock error.
_FIRST_LOCK = re.compile(r'writing "gs://[^"]+\.tflock" failed: googleapi: Error 412')


def backend_config(location: StateLocation, storage_endpoint: str | None) -> dict[str, Json]:
    """The gcs backend settings; with a local endpoint, ``storage_custom_endpoint``."""
    config: dict[str, Json] = dict(location.backend_config())
    if storage_endpoint is not None:
        config["storage_custom_endpoint"] = f"{storage_endpoint.rstrip('/')}/storage/v1/"
    return config


@contextmanager
def terraform_for(
    ctx: StepContext,
    access: GcpAccess,
    module: dict[str, Any],
    location: StateLocation,
    *,
    allow_destructive: bool,
    sources: ProviderSources,
) -> Iterator[Terraform]:
    """An initialised driver over ``module`` in a fresh workspace (removed on exit), whose
    providers come from ``sources``; a held lock is a StateLockedError (exit 4)."""

    def on_line(line: LogLine) -> None:
        ctx.emit_log(line.text)

    guard = DestructiveGuard(allow_destructive=allow_destructive).protecting(PROTECTED)
    provider = access.provider
    endpoint = TokenEndpoint(
        access.token_and_expiry,
        project=provider.project,
        email=provider.service_account or "default",
        lease_seconds=access.settings.token_lease_seconds,
    )
    with endpoint, Workspace.create(sources=sources) as workspace:
        workspace.write_root_module(module)
        tf = Terraform(
            workspace,
            cancel=ctx.cancel,
            on_line=on_line,
            credentials=endpoint.child_credentials(),
            lock_timeout=access.settings.lock_timeout,
            guard=guard,
        )
        with _run_errors(location, endpoint):
            tf.init(backend_config(location, access.settings.storage_endpoint))
            yield tf


@contextmanager
def _run_errors(location: StateLocation, endpoint: TokenEndpoint) -> Iterator[None]:
    """Terraform's failures as what they are: a state lock, or the job's credentials failing
    to give a token (which Terraform only sees as its metadata server's error)."""
    try:
        yield
    except TerraformError as exc:
        if endpoint.failures:
            raise AuthError(
                f"the job's credentials gave Terraform no token ({endpoint.failures[-1]}); "
                f"terraform reported:\n{exc}",
                hint="Check that the host's credentials may impersonate the job's service "
                "account, or that the federated token is valid.",
            ) from exc
        if not _FIRST_LOCK.search(str(exc)):
            raise
        path = f"gs://{location.bucket}/{location.prefix}/default.tflock"
        raise StateLockedError(
            f"{exc}\nlock: {path}",
            lock=LockInfo(path=path),
            hint="Another Terraform run holds the state lock. Wait for it to finish; only if "
            "that run is known to be dead, delete the lock object it left.",
        ) from exc


def string_outputs(tf: Terraform) -> dict[str, str]:
    """The root module's outputs that are strings and not sensitive."""
    return {
        name: output.value
        for name, output in tf.outputs().items()
        if isinstance(output.value, str) and not output.sensitive
    }
