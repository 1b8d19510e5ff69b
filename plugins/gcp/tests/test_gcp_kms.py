"""The gcp-kms key provider against a local Cloud KMS fake (real AES-GCM, the API's shapes;
no emulator of Cloud KMS exists): wrap, unwrap, organization binding, rotation, integrity
checks, and the engine opening a job sealed under it through the registered factory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from gcp_support import example
from qengine_gcp.kms_keys import CloudKmsKeyProvider
from qengine_gcp.sandbox_kms import LocalKms
from qengine_gcp.settings import GcpSettings

from qengine import Engine, load_plugins
from qengine.plugin import AuthError, SecretError, WrappedKey
from qengine.runner import MemoryStateStore
from qengine.secrets.sealing import seal_job

KEY = "projects/acme-platform-prod/locations/europe-west1/keyRings/qengine/cryptoKeys/jobs"
TOKEN = "ya29.kms-test-token"


@pytest.fixture
def kms() -> Iterator[LocalKms]:
    with LocalKms(KEY, token=TOKEN) as fake:
        yield fake


def _provider(kms: LocalKms, key: str | None = KEY, token: str = TOKEN) -> CloudKmsKeyProvider:
    settings = GcpSettings(kms_endpoint=kms.url, kms_key=key, sandbox_token=token)
    return CloudKmsKeyProvider(settings)


def test_wrap_and_unwrap_round_trip(kms: LocalKms) -> None:
    data_key = os.urandom(32)
    wrapped = _provider(kms).wrap(data_key, organization_id="org-a")
    assert (wrapped.provider, wrapped.key_id, wrapped.version) == ("gcp-kms", KEY, 1)
    assert data_key.hex() not in wrapped.ciphertext
    # An engine with no key of its own opens it: the wrapped key names its CryptoKey.
    assert _provider(kms, key=None).unwrap(wrapped, organization_id="org-a") == data_key
    method, body = kms.calls[0]
    assert method == "encrypt"
    assert set(body) == {
        "plaintext",
        "plaintextCrc32c",
        "additionalAuthenticatedData",
        "additionalAuthenticatedDataCrc32c",
    }


def test_another_organization_cannot_unwrap(kms: LocalKms) -> None:
    wrapped = _provider(kms).wrap(os.urandom(32), organization_id="org-a")
    with pytest.raises(SecretError) as caught:
        _provider(kms).unwrap(wrapped, organization_id="org-b")
    assert "organization" in (caught.value.hint or "")


def test_tampered_foreign_or_unwrapped_keys_are_refused(kms: LocalKms) -> None:
    provider = _provider(kms)
    wrapped = provider.wrap(os.urandom(32), organization_id="org-a")
    flipped = wrapped.ciphertext[:-4] + ("AAAA" if wrapped.ciphertext[-4:] != "AAAA" else "BBBB")
    for bad in (
        WrappedKey(provider="gcp-kms", key_id=KEY, version=1, ciphertext=flipped),
        WrappedKey(provider="aws-kms", key_id=KEY, version=1, ciphertext=wrapped.ciphertext),
        WrappedKey(provider="gcp-kms", key_id=KEY, version=1, ciphertext="%%"),
    ):
        with pytest.raises(SecretError):
            provider.unwrap(bad, organization_id="org-a")
    with pytest.raises(SecretError, match="no key to wrap"):
        _provider(kms, key=None).wrap(os.urandom(32), organization_id="org-a")


def test_a_key_wrapped_before_a_rotation_still_opens(kms: LocalKms) -> None:
    data_key = os.urandom(32)
    old = _provider(kms).wrap(data_key, organization_id="org-a")
    kms.rotate()
    new = _provider(kms).wrap(data_key, organization_id="org-a")
    assert old.ciphertext != new.ciphertext
    assert _provider(kms).unwrap(old, organization_id="org-a") == data_key


def test_a_refused_token_is_an_auth_error(kms: LocalKms) -> None:
    with pytest.raises(AuthError):
        _provider(kms, token="ya29.someone-else").wrap(os.urandom(32), organization_id="org-a")


def test_the_engine_opens_a_job_sealed_under_gcp_kms(kms: LocalKms) -> None:
    document = example()
    document["cluster"]["provider"]["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/1/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": {"secret": "ci_oidc_token"},
    }
    sealed = seal_job(document, {"ci_oidc_token": "eyJ.subject.token"}, _provider(kms))
    assert sealed["secrets"]["data_key"]["provider"] == "gcp-kms"
    assert "eyJ.subject.token" not in str(sealed)
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"})
    settings = GcpSettings(kms_endpoint=kms.url, sandbox_token=TOKEN)
    engine = Engine(plugins, store=MemoryStateStore(), settings={"gcp": settings})
    accepted = engine.accept(sealed, consume=False)
    assert accepted.services.secrets.open("ci_oidc_token").reveal() == "eyJ.subject.token"
