"""Running the job's root module with the core Terraform driver, on the ``azurerm`` backend.

The backend reads and writes the state with Entra tokens for Storage (``use_azuread_auth``)
that it asks for, whenever the one it holds is due, at a managed-identity endpoint
(``use_msi``) served for the run's whole life by
:class:`~qengine_azure.token_endpoint.StateTokenEndpoint` from the job's azure-identity
credential: a run of any length keeps its state access, and no token or secret of the
backend's is in Terraform's environment, only the endpoint's URL (``ARM_MSI_ENDPOINT``, its
path a per-run secret, through the driver's masked ``credentials=``, never argv). The
backend's other credential sources are blanked in its settings (``client_secret``,
``client_certificate``, ``oidc_token`` empty; OIDC and the Azure CLI off), so the provider's
variables of a real run are not taken up by the backend. The backend settings (resource
group, account, container, key) are not secret. A held blob lease is the core driver's
StateLockedError (exit code 4).

For the azurerm provider of a real run, the job's credential in the form the provider takes:
a client assertion or the host's projected token through OIDC (``ARM_USE_OIDC``), a
certificate as an in-memory PKCS#12, a client secret as ``ARM_CLIENT_SECRET``: each a masked
driver credential. The sandbox's stand-in module needs no provider and gets none.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qengine.plugin import InvalidInputError
from qengine.runner import StepContext
from qengine.terraform import DestructiveGuard, LogLine, ProviderSources, Terraform, Workspace
from qengine.terraform.json_types import Json
from qengine_azure.credentials import AzureAccess
from qengine_azure.state_backend import StateLocation
from qengine_azure.token_endpoint import StateTokenEndpoint

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
    endpoint = StateTokenEndpoint(access.token_for)
    env = dict(access.settings.terraform_env)
    credentials: dict[str, str] = {}
    if access.settings.sandbox is None:
        env.update(_provider_env(access))
        credentials.update(provider_credentials(access))
    with endpoint, Workspace.create(sources=sources) as workspace:
        credentials.update(endpoint.child_credentials())
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


def backend_settings(location: StateLocation) -> dict[str, Json]:
    """The azurerm backend's settings of a run: where the state is, and how it is reached."""
    return {**location.backend_config(), **_BACKEND_AUTH}


def _provider_env(access: AzureAccess) -> dict[str, str]:
    section = access.provider
    env = {
        "ARM_TENANT_ID": section.tenant_id,
        "ARM_CLIENT_ID": section.client_id,
        "ARM_SUBSCRIPTION_ID": section.subscription_id,
    }
    if section.client_assertion is not None or section.workload_identity:
        env["ARM_USE_OIDC"] = "true"
    if section.workload_identity:
        env["ARM_OIDC_TOKEN_FILE_PATH"] = os.environ.get("AZURE_FEDERATED_TOKEN_FILE", "")
    return env


def provider_credentials(access: AzureAccess) -> dict[str, str]:
    """The azurerm provider's secret environment for the job's credential kind."""
    section = access.provider
    if section.client_secret is not None:
        return {"ARM_CLIENT_SECRET": access.open_secret(section.client_secret.secret).reveal()}
    if section.client_assertion is not None:
        return {"ARM_OIDC_TOKEN": access.open_secret(section.client_assertion.secret).reveal()}
    if section.client_certificate is not None:
        pem = access.open_secret(section.client_certificate.secret).reveal()
        return {"ARM_CLIENT_CERTIFICATE": _pkcs12(pem.encode())}
    return {}


def _pkcs12(pem: bytes) -> str:
    """The PEM's key and certificate as a base64 PKCS#12 without password, in memory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidInputError("the client certificate's key must be an RSA or EC key")
    cert = x509.load_pem_x509_certificate(pem)
    bundle = pkcs12.serialize_key_and_certificates(
        b"qengine", key, cert, None, serialization.NoEncryption()
    )
    return base64.b64encode(bundle).decode("ascii")


def string_outputs(tf: Terraform) -> dict[str, str]:
    """The root module's outputs that are strings and not sensitive."""
    return {
        name: output.value
        for name, output in tf.outputs().items()
        if isinstance(output.value, str) and not output.sensitive
    }
