"""AWS KMS as a :class:`~qengine.interfaces.KeyProvider` (kind ``aws-kms``).

A job's data key is encrypted by KMS under the configured key with the encryption context
``{"qengine:organization": <organization id>}``; KMS refuses to decrypt it under any other
context, so a key wrapped for one organization never opens for another.

Versions: KMS keeps every backing key of a rotated key and each ciphertext names the one that
made it, so a KMS key never needs a qengine version number. ``key_id`` is the key's ARN and
``version`` is always 1; switching to another KMS key is a new ``key_id``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from qengine._errors import SecretError
from qengine.interfaces.keys import KeyProvider, WrappedKey
from qengine_aws.credentials import AwsAccess

KIND = "aws-kms"
CONTEXT_KEY = "qengine:organization"
VERSION = 1


def encryption_context(organization_id: str) -> dict[str, str]:
    """The KMS encryption context binding a data key to its organization."""
    return {CONTEXT_KEY: organization_id}


class KmsKeyProvider(KeyProvider):
    """Wraps data keys with one KMS key (an id, ARN or ``alias/...``)."""

    kind = KIND

    def __init__(self, key_id: str, access: AwsAccess) -> None:
        self.key_id = key_id
        self._access = access

    def wrap(self, data_key: bytes, *, organization_id: str) -> WrappedKey:
        """KMS Encrypt of ``data_key`` under the organization's context."""
        with self._access.call(f"wrapping a data key with the KMS key {self.key_id}"):
            answer = self._kms().encrypt(
                KeyId=self.key_id,
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
            lambda: self._kms().decrypt(
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

    def _kms(self) -> Any:
        return self._access.client("kms")


def _decode(ciphertext: str) -> bytes:
    try:
        return base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError("the wrapped data key is not valid base64") from exc
