"""The aws-kms key provider against moto's KMS: wrap, unwrap, organization binding."""

from __future__ import annotations

import os

import pytest
from qengine_aws.credentials import AwsAccess
from qengine_aws.kms_keys import KmsKeyProvider

from qengine import SecretError
from qengine.interfaces.keys import WrappedKey


@pytest.fixture
def provider(access: AwsAccess) -> KmsKeyProvider:
    key = access.client("kms").create_key(Description="job keys")["KeyMetadata"]
    access.client("kms").create_alias(AliasName="alias/qengine-jobs", TargetKeyId=key["KeyId"])
    return KmsKeyProvider("alias/qengine-jobs", access)


def test_wrap_and_unwrap_round_trip(provider: KmsKeyProvider) -> None:
    data_key = os.urandom(32)
    wrapped = provider.wrap(data_key, organization_id="org-a")
    assert wrapped.provider == "aws-kms"
    assert wrapped.key_id.startswith("arn:aws:kms:")
    assert wrapped.version == 1
    assert data_key.hex() not in wrapped.ciphertext
    assert provider.unwrap(wrapped, organization_id="org-a") == data_key


def test_another_organization_cannot_unwrap(provider: KmsKeyProvider) -> None:
    wrapped = provider.wrap(os.urandom(32), organization_id="org-a")
    with pytest.raises(SecretError) as caught:
        provider.unwrap(wrapped, organization_id="org-b")
    assert "organization" in caught.value.hint


def test_a_foreign_provider_or_tampered_ciphertext_is_refused(provider: KmsKeyProvider) -> None:
    wrapped = provider.wrap(os.urandom(32), organization_id="org-a")
    local = WrappedKey(provider="local", key_id="k", version=1, ciphertext=wrapped.ciphertext)
    with pytest.raises(SecretError):
        provider.unwrap(local, organization_id="org-a")
    with pytest.raises(SecretError):
        provider.unwrap(
            WrappedKey(provider="aws-kms", key_id=wrapped.key_id, version=1, ciphertext="%%"),
            organization_id="org-a",
        )
