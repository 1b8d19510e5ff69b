"""Cloud KMS as a :class:`~qengine.plugin.KeyProvider` (kind ``gcp-kms``).

A job's data key is encrypted by Cloud KMS under the configured CryptoKey (``encrypt``) with
``qengine:organization=<organization id>`` as additional authenticated data: KMS refuses to
decrypt it under any other, so a key wrapped for one organization never opens for another.
Both calls carry CRC32C checksums of what is sent and check the ones KMS returns (Google's
integrity checks for KMS requests).

Versions: Cloud KMS keeps every version of a rotated key and each ciphertext names the version
that made it, so ``decrypt`` goes to the CryptoKey and ``version`` is always 1; ``key_id`` is
the CryptoKey's resource name.

The engine builds the provider with :func:`kms_key_provider` (the registered factory) from its
GCP settings (``GcpSettings.kms_key``, ``kms_endpoint``), with the host's Application Default
Credentials (or ``sandbox_token`` in tests), when it seals or opens a job under ``gcp-kms``.
Building it sends no request. Requests go through google-auth's ``AuthorizedSession`` to the
Cloud KMS REST API (v1).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from qengine.plugin import InfrastructureError, KeyProvider, SecretError, WrappedKey
from qengine_gcp.credentials import CLOUD_PLATFORM, translate
from qengine_gcp.settings import GcpSettings, engine_settings_of

KIND = "gcp-kms"
VERSION = 1
ENDPOINT = "https://cloudkms.googleapis.com"


def kms_key_provider(settings: Mapping[str, object]) -> CloudKmsKeyProvider:
    """The ``gcp-kms`` factory: a provider from the engine's GCP settings; sends nothing."""
    return CloudKmsKeyProvider(engine_settings_of(settings))


def associated_data(organization_id: str) -> bytes:
    """The additional authenticated data binding a data key to its organization."""
    return f"qengine:organization={organization_id}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _crc(data: bytes) -> str:
    import google_crc32c

    return str(google_crc32c.value(data))


class CloudKmsKeyProvider(KeyProvider):
    """Wraps data keys with ``settings.kms_key``; unwraps any key of ours with the CryptoKey
    it names. With no ``kms_key`` it only unwraps."""

    kind = KIND

    def __init__(self, settings: GcpSettings) -> None:
        self.key_id = settings.kms_key
        self._settings = settings
        self._session: Any = None

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """Cloud KMS ``encrypt`` of ``data_key`` bound to the organization."""
        if self.key_id is None:
            raise SecretError(
                "this gcp-kms key provider has no key to wrap data keys with",
                hint="Configure the CryptoKey as GcpSettings.kms_key.",
            )
        aad = associated_data(organization_id)
        answer = self._post(
            self.key_id,
            "encrypt",
            {
                "plaintext": _b64(data_key),
                "plaintextCrc32c": _crc(data_key),
                "additionalAuthenticatedData": _b64(aad),
                "additionalAuthenticatedDataCrc32c": _crc(aad),
            },
        )
        ciphertext = _decode(str(answer.get("ciphertext", "")))
        intact = (
            answer.get("verifiedPlaintextCrc32c") is True
            and answer.get("verifiedAdditionalAuthenticatedDataCrc32c") is True
            and str(answer.get("ciphertextCrc32c")) == _crc(ciphertext)
        )
        if not intact:
            raise InfrastructureError(
                "Cloud KMS's encrypt answer failed its integrity checks (CRC32C)",
                hint="The request or the answer was corrupted on the way: try again.",
            )
        return WrappedKey(
            provider=KIND, key_id=self.key_id, version=VERSION, ciphertext=_b64(ciphertext)
        )

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """Cloud KMS ``decrypt`` bound to the organization; SecretError on any mismatch."""
        if wrapped.provider != KIND or wrapped.version != VERSION:
            raise SecretError(
                f"the data key was wrapped by {wrapped.provider} version {wrapped.version}, "
                f"not by {KIND} version {VERSION}",
                hint="Open the job with the key provider that sealed it.",
            )
        ciphertext, aad = _decode(wrapped.ciphertext), associated_data(organization_id)
        answer = self._post(
            wrapped.key_id,
            "decrypt",
            {
                "ciphertext": _b64(ciphertext),
                "ciphertextCrc32c": _crc(ciphertext),
                "additionalAuthenticatedData": _b64(aad),
                "additionalAuthenticatedDataCrc32c": _crc(aad),
            },
            refused=SecretError(
                "Cloud KMS refused to unwrap the job's data key for this organization",
                hint="The job was sealed for another organization or with another key.",
            ),
        )
        plaintext = _decode(str(answer.get("plaintext", "")))
        if str(answer.get("plaintextCrc32c")) != _crc(plaintext):
            raise InfrastructureError("Cloud KMS's decrypt answer failed its CRC32C check")
        return plaintext

    def _post(
        self,
        key: str,
        method: str,
        body: dict[str, str],
        refused: Exception | None = None,
    ) -> dict[str, Any]:
        base = (self._settings.kms_endpoint or ENDPOINT).rstrip("/")
        doing = f"{method}ing a data key with {key}"
        try:
            reply = self._authorized().post(f"{base}/v1/{key}:{method}", json=body, timeout=30)
        except Exception as exc:
            raise (translate(exc, doing) or InfrastructureError(f"{doing}: {exc}")) from exc
        if reply.status_code == 400 and refused is not None:
            raise refused
        if reply.status_code != 200:
            error = _error_of(reply)
            raise translate(error, doing) or InfrastructureError(f"{doing}: {error}")
        answer: dict[str, Any] = reply.json()
        return answer

    def _authorized(self) -> Any:
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession

            if self._settings.sandbox_token is not None:
                from google.oauth2.credentials import Credentials

                credentials: Any = Credentials(token=self._settings.sandbox_token)  # type: ignore[no-untyped-call]
            else:
                import google.auth

                credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
            self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        return self._session


def _error_of(reply: Any) -> Exception:
    from google.api_core import exceptions

    error: Exception = exceptions.from_http_response(reply)  # type: ignore[no-untyped-call]
    return error


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("the wrapped data key is not valid base64") from exc
