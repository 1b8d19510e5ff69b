"""Running the job's root module with the core Terraform driver, on the ``gcs`` backend.

Terraform gets the job's short-lived access token as ``GOOGLE_OAUTH_ACCESS_TOKEN`` through the
driver's ``credentials=`` (its environment only, masked in everything the driver reports;
never argv, never a file): both the ``gcs`` backend and the google provider read it there.
The backend settings are the cluster's bucket and prefix, and, for a local Cloud Storage,
``storage_custom_endpoint``. The destructive-change guard also protects the Google types the
blueprint declares.

A token is not renewed inside one Terraform process: each step gets a fresh one (at most
``token_seconds`` long, renewed five minutes before it ends), see docs/gcp.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
TOKEN_VARIABLE = "GOOGLE_OAUTH_ACCESS_TOKEN"  # noqa: S105 (a variable's name)
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
    token = access.token().reveal()
    with Workspace.create(sources=sources) as workspace:
        workspace.write_root_module(module)
        tf = Terraform(
            workspace,
            cancel=ctx.cancel,
            on_line=on_line,
            credentials={TOKEN_VARIABLE: token},
            lock_timeout=access.settings.lock_timeout,
            guard=guard,
        )
        with _lock_errors(location):
            tf.init(backend_config(location, access.settings.storage_endpoint))
            yield tf


@contextmanager
def _lock_errors(location: StateLocation) -> Iterator[None]:
    try:
        yield
    except TerraformError as exc:
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
