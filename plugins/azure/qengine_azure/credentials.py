"""The job's Azure identity: short-lived Microsoft Entra tokens through azure-identity.

One credential per job, from the section's one credential kind:

- ``client_secret``: ``ClientSecretCredential``;
- ``client_certificate``: ``CertificateCredential`` (the PEM opened from the job's secret,
  kept in memory only);
- ``client_assertion``: ``ClientAssertionCredential``, the signed JWT opened when a token is
  needed;
- ``workload_identity``: ``WorkloadIdentityCredential`` on the host's projected token
  (``AZURE_FEDERATED_TOKEN_FILE``, a path the host sets, as AKS workload identity does).

azure-identity caches each token and asks Entra again shortly before it expires, so a long
run keeps working. The secret is opened by the step that needs a token, never put in
``os.environ`` or a command line, and the credential object is not kept in any report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from qengine.plugin import AuthError, InvalidInputError
from qengine.spec import InfrastructureJob
from qengine_azure.settings import AzureSettings
from qengine_azure.spec import AzureIdentity, AzureProvider

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from qengine.plugin import SecretValue

SecretOpener = Callable[[str], "SecretValue"]
_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 (a variable name)


def provider_of(job: InfrastructureJob) -> AzureProvider:
    """The job's Azure section (the engine built this plugin's engine for it)."""
    provider = job.cluster.provider
    assert isinstance(provider, AzureProvider)
    return provider


@attrs.define
class AzureAccess:
    """A job's way into Azure: the section naming who it acts as (the cluster's ``azure``
    provider, an ``azure-dns`` section), a secret opener and the plugin's settings.

    Nothing is opened or requested until :meth:`credential` is first called.
    """

    identity: AzureIdentity
    open_secret: SecretOpener = attrs.field(repr=False)
    settings: AzureSettings
    _credential: TokenCredential | None = attrs.field(default=None, repr=False, alias="_credential")

    @classmethod
    def of(
        cls, job: InfrastructureJob, open_secret: SecretOpener, settings: AzureSettings
    ) -> AzureAccess:
        """Build it for ``job``'s cluster; sends nothing."""
        return cls(identity=provider_of(job), open_secret=open_secret, settings=settings)

    @property
    def provider(self) -> AzureProvider:
        """The cluster's section (for the steps of an infrastructure job)."""
        assert isinstance(self.identity, AzureProvider), "not a cluster's access"
        return self.identity

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every Azure SDK client of the job takes (the CA of local
        stand-ins)."""
        if self.settings.ca_file is None:
            return {}
        return {"connection_verify": str(self.settings.ca_file)}

    def credential(self) -> TokenCredential:
        """The job's azure-identity credential (built once)."""
        if self._credential is None:
            self._credential = self._build()
        return self._credential

    def arm_token(self) -> str:
        """A current Resource Manager access token (raises AuthError when Entra refuses)."""
        return self.token_for(self.settings.arm_scope)[0]

    def token_for(self, scope: str) -> tuple[str, int]:
        """A current access token for ``scope`` and its expiry (seconds since the epoch);
        azure-identity renews it before it expires. Raises AuthError when Entra refuses."""
        from azure.core.exceptions import ClientAuthenticationError

        try:
            token = self.credential().get_token(scope)
            return token.token, token.expires_on
        except ClientAuthenticationError as exc:
            raise AuthError(
                f"Microsoft Entra ID gave no token for client {self.identity.client_id} of "
                f"tenant {self.identity.tenant_id}: {exc.message}",
                hint="Check the application's credential and that it is not expired.",
            ) from exc

    def _build(self) -> TokenCredential:
        from azure import identity

        section = self.identity
        common: dict[str, Any] = {"authority": self.settings.authority, **self.client_options()}
        if self.settings.authority != identity.AzureAuthorityHosts.AZURE_PUBLIC_CLOUD:
            common["disable_instance_discovery"] = True
        tenant, client = section.tenant_id, section.client_id
        if section.client_secret is not None:
            secret = self.open_secret(section.client_secret.secret).reveal()
            return identity.ClientSecretCredential(tenant, client, secret, **common)
        if section.client_certificate is not None:
            pem = self.open_secret(section.client_certificate.secret).reveal().encode()
            return identity.CertificateCredential(tenant, client, certificate_data=pem, **common)
        if section.client_assertion is not None:
            name = section.client_assertion.secret
            return identity.ClientAssertionCredential(
                tenant, client, lambda: self.open_secret(name).reveal(), **common
            )
        path = os.environ.get(_TOKEN_FILE)
        if not path:
            raise InvalidInputError(
                f"workload_identity needs the host's projected token, and {_TOKEN_FILE} is not set",
                hint="Run the engine in a pod with Azure workload identity enabled, or give "
                "the job another credential.",
            )
        return identity.WorkloadIdentityCredential(
            tenant_id=tenant, client_id=client, token_file_path=path, **common
        )
