"""Azure Key Vault as a :class:`~qengine.plugin.KeyProvider` (kind ``azure-key-vault``).

A job's data key is wrapped by Key Vault with RSA-OAEP-256 under the configured RSA key
(``wrapKey``), and unwrapped by Key Vault (``unwrapKey``): the private key never leaves the
vault (or its HSM). RSA-OAEP has no associated data, so the organization is bound inside the
wrapped payload: 16 bytes of SHA-256 over ``qengine:organization=<id>`` before the data key.
OAEP is non-malleable, so no one can re-bind a wrapped key to another organization, and
:meth:`unwrap` refuses a payload whose binding is not the organization asked for.

Versions: the wrapped key's ``key_id`` is the full key id with its version, as Key Vault
returned it, so a key rotated since still unwraps what its older version wrapped;
``version`` is always 1 (the payload's format).

Through azure-keyvault-keys' ``CryptographyClient``, with the host's credential
(``AzureSettings.key_credential``, else ``DefaultAzureCredential``). Building the provider
sends no request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from qengine.plugin import AuthError, InfrastructureError, KeyProvider, SecretError, WrappedKey
from qengine_azure.settings import AzureSettings, engine_settings_of

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

KIND = "azure-key-vault"
VERSION = 1
_BINDING = 16


def key_vault_provider(settings: Mapping[str, object]) -> KeyVaultKeyProvider:
    """The ``azure-key-vault`` factory: a provider from the engine's Azure settings."""
    return KeyVaultKeyProvider(engine_settings_of(settings))


def binding(organization_id: str) -> bytes:
    """What ties a wrapped data key to its organization."""
    return hashlib.sha256(f"qengine:organization={organization_id}".encode()).digest()[:_BINDING]


class KeyVaultKeyProvider(KeyProvider):
    """Wraps data keys with ``settings.key_vault_key``; unwraps any key of ours with the key
    version it names. With no ``key_vault_key`` it only unwraps."""

    kind = KIND

    def __init__(self, settings: AzureSettings) -> None:
        self.key_id = settings.key_vault_key
        self._settings = settings
        self._credential: TokenCredential | None = settings.key_credential

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """Key Vault ``wrapKey`` (RSA-OAEP-256) of the organization's binding and the key."""
        if self.key_id is None:
            raise SecretError(
                "this azure-key-vault key provider has no key to wrap data keys with",
                hint="Configure the key as AzureSettings.key_vault_key.",
            )
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        payload = binding(organization_id) + data_key
        result = self._call(
            self.key_id, "wrap", lambda c: c.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, payload)
        )
        return WrappedKey(
            provider=KIND,
            key_id=str(result.key_id or self.key_id),
            version=VERSION,
            ciphertext=base64.b64encode(result.encrypted_key).decode("ascii"),
        )

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """Key Vault ``unwrapKey``; SecretError on any mismatch (key, version, organization)."""
        if wrapped.provider != KIND or wrapped.version != VERSION:
            raise SecretError(
                f"the data key was wrapped by {wrapped.provider} version {wrapped.version}, "
                f"not by {KIND} version {VERSION}",
                hint="Open the job with the key provider that sealed it.",
            )
        from azure.keyvault.keys.crypto import KeyWrapAlgorithm

        ciphertext = base64.b64decode(wrapped.ciphertext)
        result = self._call(
            wrapped.key_id,
            "unwrap",
            lambda c: c.unwrap_key(KeyWrapAlgorithm.rsa_oaep_256, ciphertext),
        )
        payload = result.key
        if len(payload) <= _BINDING or not hmac.compare_digest(
            payload[:_BINDING], binding(organization_id)
        ):
            raise SecretError(
                "the data key was wrapped for another organization",
                hint="The job was sealed for another organization.",
            )
        return bytes(payload[_BINDING:])

    def _call(self, key_id: str, doing: str, operation: Any) -> Any:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )
        from azure.keyvault.keys.crypto import CryptographyClient

        options: dict[str, Any] = {
            "verify_challenge_resource": self._settings.key_vault_verify_challenge
        }
        if self._settings.ca_file is not None:
            options["connection_verify"] = str(self._settings.ca_file)
        client = CryptographyClient(key_id, self._host_credential(), **options)
        try:
            return operation(client)
        except ClientAuthenticationError as exc:
            raise AuthError(
                f"no token for Key Vault to {doing} a data key with {key_id}: {exc.message}",
                hint="Check the host's Azure identity (DefaultAzureCredential's chain).",
            ) from exc
        except ResourceNotFoundError as exc:
            raise SecretError(
                f"Key Vault has no key {key_id} to {doing} the data key with",
                hint="The key (or its version) was deleted, or the job was sealed elsewhere.",
            ) from exc
        except HttpResponseError as exc:
            code = exc.error.code if exc.error is not None else exc.status_code
            if doing == "unwrap" and exc.status_code == 400:
                raise SecretError(
                    f"Key Vault could not unwrap the data key with {key_id}: {code}",
                    hint="The wrapped key was made with another key or was altered.",
                ) from exc
            raise InfrastructureError(
                f"Key Vault refused to {doing} a data key with {key_id}: {code}: {exc.message}",
                hint="The host's identity needs the Key Vault Crypto User role on the key.",
            ) from exc

    def _host_credential(self) -> TokenCredential:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential
