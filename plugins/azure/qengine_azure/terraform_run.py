"""Running the job's root module with the core Terraform driver, on the ``azurerm`` backend.

No credential of the job is in Terraform's environment: the backend and, in a real run, the
azurerm provider take Entra tokens from a managed-identity endpoint served for the run's
whole life by :class:`~qengine_azure.token_endpoint.RunTokenEndpoint` from the job's
azure-identity credential (whatever its kind), and ask it again whenever the token they hold
is due. Terraform gets the endpoint's URL only (``ARM_MSI_ENDPOINT``, its path a per-run
secret, through the driver's masked ``credentials=``, never argv).

- The backend reads and writes the state with Storage tokens (``use_azuread_auth``,
  ``use_msi``); its other credential sources are blanked in its settings
  (``client_secret``, ``client_certificate``, ``oidc_token`` empty; OIDC and the Azure CLI
  off). The backend settings (resource group, account, container, key) are not secret.
- The provider of a real run gets ``ARM_USE_MSI`` and the tenant, client and subscription
  ids (not secret), and asks the endpoint for Resource Manager's and Microsoft Graph's
  tokens. The sandbox's stand-in module needs no provider; it gets the same endpoint.

A held blob lease is the core driver's StateLockedError (exit code 4).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qengine.runner import StepContext
from qengine.terraform import DestructiveGuard, LogLine, ProviderSources, Terraform, Workspace
from qengine.terraform.json_types import Json
from qengine_azure.credentials import AzureAccess
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import StateLocation
from qengine_azure.token_endpoint import STORAGE_RESOURCE, RunTokenEndpoint

#: The backend's authentication: Entra tokens from the run's managed-identity endpoint, and
#: every other source it would read from the environment blanked or off.
_BACKEND_AUTH: dict[str, Json] = {
    "use_azuread_auth": True,
    "use_msi": True,
    "use_oidc": False,
    "use_aks_workload_identity": False,
    "use_cli": False,
    "client_secret": "",
    "client_certificate": "",
    "oidc_token": "",
    "oidc_token_file_path": "",
}

#: What the destructive-change guard refuses to delete or replace outside a delete job.
PROTECTED = (
    "azurerm_kubernetes_cluster",
    "azurerm_kubernetes_cluster_node_pool",
    "azurerm_virtual_network",
    "azurerm_subnet",
    "azurerm_resource_group",
    "azurerm_storage_account",
    "azurerm_key_vault",
)


@contextmanager
def terraform_for(
    ctx: StepContext,
    access: AzureAccess,
    module: dict[str, Any],
    location: StateLocation,
    *,
    allow_destructive: bool,
    sources: ProviderSources,
) -> Iterator[Terraform]:
    """An initialised driver over ``module`` in a fresh workspace (removed on exit)."""

    def on_line(line: LogLine) -> None:
        ctx.emit_log(line.text)

    guard = DestructiveGuard(allow_destructive=allow_destructive).protecting(PROTECTED)
    with (
        run_environment(access) as (env, credentials),
        Workspace.create(sources=sources) as workspace,
    ):
        workspace.write_root_module(module)
        tf = Terraform(
            workspace,
            cancel=ctx.cancel,
            on_line=on_line,
            credentials=credentials,
            env=env,
            lock_timeout=access.settings.lock_timeout,
            guard=guard,
        )
        tf.init(backend_settings(location))
        yield tf


@contextmanager
def run_environment(access: AzureAccess) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Terraform's environment for one run, and its secret part (the driver's masked
    ``credentials=``), with the run's token endpoint serving while the block lasts.

    The same for every run of a job, real or sandbox, except that a real run's provider
    also gets ``ARM_USE_MSI`` and the identity's ids. No secret of the job is in either.
    """
    endpoint = RunTokenEndpoint(access.token_for, resources=token_resources(access.settings))
    env = dict(access.settings.terraform_env)
    if access.settings.sandbox is None:
        env.update(provider_env(access))
    with endpoint:
        yield env, endpoint.child_credentials()


def token_resources(settings: AzureSettings) -> tuple[str, ...]:
    """What the run's endpoint hands tokens for: Storage (the backend), Resource Manager
    and Microsoft Graph (the provider)."""
    return (STORAGE_RESOURCE, settings.arm_endpoint, settings.graph_endpoint)


def backend_settings(location: StateLocation) -> dict[str, Json]:
    """The azurerm backend's settings of a run: where the state is, and how it is reached."""
    return {**location.backend_config(), **_BACKEND_AUTH}


def provider_env(access: AzureAccess) -> dict[str, str]:
    """The azurerm provider's settings of a real run: the managed-identity protocol at the
    run's endpoint (``ARM_MSI_ENDPOINT`` comes with the credentials), and the identity's
    ids, none of them secret. Whatever the job's credential kind, none reaches Terraform."""
    section = access.provider
    return {
        "ARM_USE_MSI": "true",
        "ARM_USE_OIDC": "false",
        "ARM_USE_CLI": "false",
        "ARM_TENANT_ID": section.tenant_id,
        "ARM_CLIENT_ID": section.client_id,
        "ARM_SUBSCRIPTION_ID": section.subscription_id,
    }


def string_outputs(tf: Terraform) -> dict[str, str]:
    """The root module's outputs that are strings and not sensitive."""
    return {
        name: output.value
        for name, output in tf.outputs().items()
        if isinstance(output.value, str) and not output.sensitive
    }
