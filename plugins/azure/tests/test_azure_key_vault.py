"""The azure-key-vault key provider through azure-keyvault-keys against the stand-in Key
Vault (no emulator exists; the stand-in answers the SDK's challenge, key GET, wrapKey and
unwrapKey with Key Vault's shapes and real RSA-OAEP-256), loaded as the engine loads it."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import attrs
import pytest
from qengine_azure.key_vault import KIND, KeyVaultKeyProvider
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_tls import make_tls
from qengine_azure.settings import AzureSettings

from qengine import SecretError, load_plugins

ORG = "org-acme"


@pytest.fixture
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalArm]:
    tls = make_tls(tmp_path_factory.mktemp("tls"), ("localhost",))
    with LocalArm(tls) as server:
        yield server


def _provider(arm: LocalArm, key_id: str | None) -> KeyVaultKeyProvider:
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(
        "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "12345678-90ab-cdef-1234-567890abcdef",
        "host-secret",
        authority=arm.url,
        disable_instance_discovery=True,
        connection_verify=str(arm.tls.ca),
        additionally_allowed_tenants=["*"],
    )
    settings = AzureSettings(
        ca_file=arm.tls.ca,
        key_vault_key=key_id,
        key_credential=credential,
        key_vault_verify_challenge=False,  # the stand-in vault answers on 127.0.0.1
    )
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"})
    entry = next(e for e in plugins.registry.entries() if e.kind == KIND)
    provider = entry.factory({"azure": settings})
    assert isinstance(provider, KeyVaultKeyProvider)
    return provider


def test_a_data_key_round_trips_and_never_travels_in_the_clear(arm: LocalArm) -> None:
    key_id = arm.create_vault_key("qengine-jobs")
    provider = _provider(arm, key_id.rsplit("/", 1)[0])  # the key without a version
    data_key = os.urandom(32)
    wrapped = provider.wrap(data_key, organization_id=ORG)
    assert wrapped.key_id == key_id  # the version that wrapped it
    assert base64.b64decode(wrapped.ciphertext) != data_key
    assert len(base64.b64decode(wrapped.ciphertext)) == 256  # RSA 2048
    assert provider.unwrap(wrapped, organization_id=ORG) == data_key
    unwraps = [r for r in arm.state.requests if r.path.endswith("/unwrapkey")]
    assert unwraps, "the unwrap must be Key Vault's (the private key stays there)"


def test_another_organization_cannot_open_it(arm: LocalArm) -> None:
    provider = _provider(arm, arm.create_vault_key("qengine-jobs"))
    wrapped = provider.wrap(os.urandom(32), organization_id=ORG)
    with pytest.raises(SecretError, match="another organization"):
        provider.unwrap(wrapped, organization_id="org-other")


def test_a_rotated_key_still_opens_what_its_older_version_wrapped(arm: LocalArm) -> None:
    first = arm.create_vault_key("qengine-jobs")
    provider = _provider(arm, first.rsplit("/", 1)[0])
    data_key = os.urandom(32)
    old = provider.wrap(data_key, organization_id=ORG)
    second = arm.create_vault_key("qengine-jobs")
    new = provider.wrap(os.urandom(32), organization_id=ORG)
    assert (old.key_id, new.key_id) == (first, second)
    assert provider.unwrap(old, organization_id=ORG) == data_key


def test_an_altered_or_foreign_wrapped_key_is_a_secret_error(arm: LocalArm) -> None:
    provider = _provider(arm, arm.create_vault_key("qengine-jobs"))
    wrapped = provider.wrap(os.urandom(32), organization_id=ORG)
    raw = bytearray(base64.b64decode(wrapped.ciphertext))
    raw[10] ^= 0xFF
    altered = attrs.evolve(wrapped, ciphertext=base64.b64encode(bytes(raw)).decode())
    with pytest.raises(SecretError):
        provider.unwrap(altered, organization_id=ORG)
    with pytest.raises(SecretError, match="not by azure-key-vault"):
        provider.unwrap(attrs.evolve(wrapped, provider="gcp-kms"), organization_id=ORG)
    gone = attrs.evolve(wrapped, key_id=f"{arm.url}/keys/deleted/0123")
    with pytest.raises(SecretError, match="has no key"):
        provider.unwrap(gone, organization_id=ORG)


def test_without_a_key_it_only_unwraps(arm: LocalArm) -> None:
    with pytest.raises(SecretError, match="no key to wrap"):
        _provider(arm, None).wrap(os.urandom(32), organization_id=ORG)
