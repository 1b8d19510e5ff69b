"""Engine-side settings of the Azure plugin: what a host or a test configures, never a job.

A job names a subscription, a tenant and an application; where Azure's endpoints answer is
the engine's business. The endpoints point the clients at local servers (the sandbox, tests);
they are deliberately absent from the job spec, so a job cannot send its credentials to a host
of its choosing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import SandboxCluster

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from qengine.plugin import JobServices
    from qengine_azure.local_arm import LocalArm

#: The plugin's name: the key of its settings among the engine's.
PLUGIN = "azure"
#: Azure public cloud's endpoints.
ARM_ENDPOINT = "https://management.azure.com"
AUTHORITY = "https://login.microsoftonline.com"
GRAPH_ENDPOINT = "https://graph.microsoft.com"


@attrs.frozen(kw_only=True)
class AzureSettings:
    """How the plugin reaches Azure.

    ``arm_endpoint``: Azure Resource Manager's root; ``authority``: Microsoft Entra ID's
    (a local stand-in's URL in the sandbox and tests); ``graph_endpoint``: Microsoft Graph's
    root (the azurerm provider asks for a token of it to read its own identity).
    ``ca_file``: a CA bundle the Python clients trust instead of the system's (the
    stand-ins' throwaway CA), or None.
    ``blob_endpoint``: the blob data plane of an account by name (Azure's
    ``https://<account>.blob.core.windows.net`` when None). ``terraform_env``: non-secret
    variables Terraform's process gets (a local cloud's metadata host, proxy and CA bundle).
    ``state_sas``: in the sandbox, makes an account SAS of a local state account from its
    key, for the tests' and benchmarks' own clients; the plugin never uses it (it reaches
    the state with the job's Entra tokens only).
    ``lock_timeout``: seconds a Terraform run waits for the state lock (0: fails at once).
    ``job_lease_seconds``: how long a job's lease beside the state lasts unrenewed (see
    :mod:`qengine_azure.lease`).
    ``sandbox``: set for a sandbox run: where the stand-in cluster's API answers; Terraform
    applies the stand-in root module. ``stand_in``: the sandbox's stand-in Resource Manager,
    told of the managed cluster a stand-in apply makes (so stop and start find it).

    The ``azure-key-vault`` key provider: ``key_vault_key`` is the key
    (``https://<vault>.vault.azure.net/keys/<name>``) new data keys are wrapped with (None:
    only unwrap); ``key_credential`` the host's credential for Key Vault (None: azure-identity's
    ``DefaultAzureCredential``); ``key_vault_verify_challenge`` whether Key Vault's
    authentication challenge must name the vault's own domain (off only for a local
    stand-in).
    """

    arm_endpoint: str = ARM_ENDPOINT
    authority: str = AUTHORITY
    graph_endpoint: str = GRAPH_ENDPOINT
    ca_file: Path | None = None
    blob_endpoint: Callable[[str], str] | None = None
    acr_endpoint: Callable[[str], str] | None = None
    terraform_env: Mapping[str, str] = attrs.field(factory=dict)
    state_sas: Callable[[str], str] | None = attrs.field(default=None, repr=False)
    lock_timeout: float = 0.0
    job_lease_seconds: float = attrs.field(default=60.0, validator=attrs.validators.ge(3.0))
    sandbox: SandboxCluster | None = None
    stand_in: LocalArm | None = attrs.field(default=None, repr=False)
    key_vault_key: str | None = None
    key_credential: TokenCredential | None = attrs.field(default=None, repr=False)
    key_vault_verify_challenge: bool = True

    @property
    def arm_scope(self) -> str:
        """The token scope of Resource Manager."""
        return f"{self.arm_endpoint.rstrip('/')}/.default"

    def account_url(self, account: str) -> str:
        """The blob endpoint of storage account ``account``."""
        if self.blob_endpoint is not None:
            return self.blob_endpoint(account)
        return f"https://{account}.blob.core.windows.net"

    def registry_url(self, login_server: str) -> str:
        """The base URL of the data plane of the registry ``login_server``."""
        if self.acr_endpoint is not None:
            return self.acr_endpoint(login_server).rstrip("/")
        return f"https://{login_server}"


def settings_of(services: JobServices) -> AzureSettings:
    """The Azure settings a host gave this job's services, or the defaults (Azure itself)."""
    return services.settings_for(PLUGIN, AzureSettings) or AzureSettings()


def engine_settings_of(settings: Mapping[str, object]) -> AzureSettings:
    """The Azure settings among an engine's per-plugin settings, or the defaults."""
    found = settings.get(PLUGIN)
    return found if isinstance(found, AzureSettings) else AzureSettings()
