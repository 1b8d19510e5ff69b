"""AWS KMS as a :class:`~qengine.interfaces.KeyProvider` (kind ``aws-kms``).

A job's data key is encrypted by KMS under the configured key with the encryption context
``{"qengine:organization": <organization id>}``; KMS refuses to decrypt it under any other
context, so a key wrapped for one organization never opens for another.

Versions: KMS keeps every backing key of a rotated key and each ciphertext names the one that
made it, so a KMS key never needs a qengine version number. ``key_id`` is the key's ARN and
``version`` is always 1; switching to another KMS key is a new ``key_id``.

The engine builds the provider with :func:`kms_key_provider` (the registered factory) from its
AWS settings (``AwsSettings.kms``: the key and its region; ``endpoint_url``; the base
credential) when it opens a job sealed under ``aws-kms``. Building it sends no request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from qengine.plugin import InvalidInputError, KeyProvider, SecretError, WrappedKey
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.settings import engine_settings_of

KIND = "aws-kms"
CONTEXT_KEY = "qengine:organization"
VERSION = 1
#: The region of an access that never signs a KMS request itself: an engine without a key of
#: its own only unwraps, and a wrapped key's ARN names the region it is sent to.
UNUSED_REGION = "us-east-1"


def region_of_arn(key_id: str) -> str | None:
    """The region an ARN names (``arn:aws:kms:<region>:...``), or None for an id or alias."""
    parts = key_id.split(":")
    return (parts[3] or None) if len(parts) > 5 and parts[0] == "arn" else None


def kms_key_provider(settings: Mapping[str, object]) -> KmsKeyProvider:
    """The ``aws-kms`` factory: a provider from the engine's AWS settings; sends nothing.

    ``AwsSettings.kms.key_id`` wraps new data keys (None: unwrap only); its region is
    ``AwsSettings.kms.region`` or the one its ARN names. The base credential is the host's
    default chain (or ``AwsSettings.sandbox_credentials``); ``endpoint_url`` applies.
    """
    aws = engine_settings_of(settings)
    key_id = aws.kms.key_id
    region = aws.kms.region or (region_of_arn(key_id) if key_id else None)
    if key_id is not None and region is None:
        raise InvalidInputError(
            f"the aws-kms key {key_id!r} is not an ARN and no region is configured for it",
            hint="Give the key's ARN, or its region as AwsSettings.kms.region.",
        )
    request = CredentialRequest(
        region=region or UNUSED_REGION, job_id="aws-kms", organization_id="qengine-engine"
    )
    return KmsKeyProvider(key_id, AwsAccess(request, open_secret=None, settings=aws))


def encryption_context(organization_id: str) -> dict[str, str]:
    """The KMS encryption context binding a data key to its organization."""
    return {CONTEXT_KEY: organization_id}


class KmsKeyProvider(KeyProvider):
    """Wraps data keys with one KMS key (an id, ARN or ``alias/...``) in the access's region;
    unwraps any key of ours, in the region its ARN names. With ``key_id`` None it only
    unwraps."""

    kind = KIND

    def __init__(self, key_id: str | None, access: AwsAccess) -> None:
        self.key_id = key_id
        self._access = access

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """KMS Encrypt of ``data_key`` under the organization's context."""
        key_id = self.key_id
        if key_id is None:
            raise SecretError(
                "this aws-kms key provider has no key to wrap data keys with",
                hint="Configure the KMS key as AwsSettings.kms.key_id.",
            )
        with self._access.call(f"wrapping a data key with the KMS key {key_id}"):
            answer = self._kms(key_id).encrypt(
                KeyId=key_id,
                Plaintext=data_key,
                EncryptionContext=encryption_context(organization_id),
            )
        return WrappedKey(
            provider=KIND,
            key_id=str(answer["KeyId"]),
            version=VERSION,
            ciphertext=base64.b64encode(answer["CiphertextBlob"]).decode("ascii"),
        )

    def unwrap(self, wrapped: WrappedKey, *, organization_id: str) -> bytes:
        """KMS Decrypt under the organization's context; SecretError on any mismatch."""
        if wrapped.provider != KIND or wrapped.version != VERSION:
            raise SecretError(
                f"the data key was wrapped by {wrapped.provider} version {wrapped.version}, "
                f"not by {KIND} version {VERSION}",
                hint="Open the job with the key provider that sealed it.",
            )
        blob = _decode(wrapped.ciphertext)
        plaintext = self._access.unless_absent(
            f"unwrapping a data key with the KMS key {wrapped.key_id}",
            lambda: self._kms(wrapped.key_id).decrypt(
                CiphertextBlob=blob,
                KeyId=wrapped.key_id,
                EncryptionContext=encryption_context(organization_id),
            )["Plaintext"],
            "InvalidCiphertextException",
            "IncorrectKeyException",
        )
        if plaintext is None:
            raise SecretError(
                "KMS refused to unwrap the job's data key for this organization",
                hint="The job was sealed for another organization or with another KMS key.",
            )
        return bytes(plaintext)

    def _kms(self, key_id: str) -> Any:
        return self._access.client("kms", region=region_of_arn(key_id))


def _decode(ciphertext: str) -> bytes:
    try:
        return base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("the wrapped data key is not valid base64") from exc
