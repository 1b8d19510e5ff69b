"""The aws-kms key provider against moto's KMS: wrap, unwrap, organization binding, and the
registered factory building it from the engine's settings."""

from __future__ import annotations

import json
import os

import attrs
import pytest
from aws_support import EXAMPLE, FAKE_KEY_ID, FAKE_SECRET
from qengine_aws.credentials import AwsAccess
from qengine_aws.kms_keys import KmsKeyProvider
from qengine_aws.settings import AwsSettings, KmsSettings

from qengine import Engine, load_plugins
from qengine.plugin import InvalidInputError, SecretError, WrappedKey
from qengine.runner import MemoryStateStore
from qengine.secrets.sealing import seal_job


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


def test_the_engine_opens_a_job_sealed_under_aws_kms_with_the_registered_factory(
    provider: KmsKeyProvider, settings: AwsSettings
) -> None:
    sealed = seal_job(
        json.loads(EXAMPLE.read_text()), {"aws_external_id": "kms-external-id"}, provider
    )
    arn = sealed["secrets"]["data_key"]["key_id"]
    assert arn.startswith("arn:aws:kms:eu-west-3:")
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    # No key of its own and no region: the wrapped key's ARN says which key, where.
    aws = attrs.evolve(settings, sandbox_credentials=(FAKE_KEY_ID, FAKE_SECRET))
    engine = Engine(plugins, store=MemoryStateStore(), settings={"aws": aws})
    accepted = engine.accept(sealed, consume=False)
    assert accepted.services.secrets.open("aws_external_id").reveal() == "kms-external-id"
    # With a key of its own, the factory's provider wraps too.
    own = attrs.evolve(aws, kms=KmsSettings(key_id="alias/qengine-jobs", region="eu-west-3"))
    built = plugins.registry.key_provider("aws-kms", {"aws": own})
    assert isinstance(built, KmsKeyProvider)
    wrapped = built.wrap(os.urandom(32), organization_id="org-a")
    assert wrapped.key_id == arn


def test_the_factory_refuses_a_key_it_cannot_place_and_wraps_nothing_without_a_key() -> None:
    registry = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).registry
    with pytest.raises(InvalidInputError, match="not an ARN") as caught:
        registry.key_provider("aws-kms", {"aws": AwsSettings(kms=KmsSettings(key_id="alias/x"))})
    assert "AwsSettings.kms.region" in caught.value.hint
    unwrap_only = registry.key_provider("aws-kms", {})
    with pytest.raises(SecretError, match="no key to wrap"):
        unwrap_only.wrap(os.urandom(32), organization_id="org-a")
