"""The job's credentials through azure-identity, against the stand-in Entra ID token endpoint
(no Entra emulator exists; the stand-in answers azure-identity's and MSAL's real requests):
each credential kind gives a token, tokens are renewed as they expire, a refusal is an
AuthError, and no secret leaks."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.credentials import AzureAccess
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_tls import LocalTls, make_tls
from qengine_azure.settings import AzureSettings
from qengine_azure.terraform_run import run_environment

from qengine import AuthError, InvalidInputError, load_plugins
from qengine.secrets.value import SecretValue


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTls:
    return make_tls(tmp_path_factory.mktemp("tls"), ("localhost",))


@pytest.fixture
def arm(tls: LocalTls) -> Iterator[LocalArm]:
    with LocalArm(tls) as server:
        yield server


def _certificate_pem() -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "qengine-test-app")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return (key_pem + cert.public_bytes(serialization.Encoding.PEM)).decode()


def _access(arm: LocalArm, kind: str, secret: str) -> AzureAccess:
    document: dict[str, Any] = example()
    provider = document["cluster"]["provider"]
    provider.pop("client_secret")
    provider[kind] = True if kind == "workload_identity" else {"secret": "the-credential"}
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(document)
    settings = AzureSettings(arm_endpoint=arm.url, authority=arm.url, ca_file=arm.tls.ca)
    return AzureAccess.of(job, lambda name: SecretValue(secret), settings)  # type: ignore[arg-type]


def _proofs(arm: LocalArm) -> list[str]:
    return [r.proof for r in arm.state.requests if r.path.endswith("/oauth2/v2.0/token")]


def test_a_client_secret_gives_a_token(arm: LocalArm) -> None:
    access = _access(arm, "client_secret", DEMO_SECRET)
    token = access.arm_token()
    assert arm.token_valid(f"Bearer {token}")
    assert _proofs(arm) == ["secret"]
    assert DEMO_SECRET not in repr(access)


def test_a_client_certificate_signs_an_assertion(arm: LocalArm) -> None:
    access = _access(arm, "client_certificate", _certificate_pem())
    assert arm.token_valid(f"Bearer {access.arm_token()}")
    assert _proofs(arm) == ["assertion"]


def test_a_client_assertion_is_sent_as_is(arm: LocalArm) -> None:
    access = _access(arm, "client_assertion", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    assert arm.token_valid(f"Bearer {access.arm_token()}")
    assert _proofs(arm) == ["assertion"]


def test_workload_identity_reads_the_hosts_projected_token(
    arm: LocalArm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    # The host's setting (a path), as AKS workload identity projects it into the pod.
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    access = _access(arm, "workload_identity", "")
    assert arm.token_valid(f"Bearer {access.arm_token()}")
    assert _proofs(arm) == ["assertion"]


def test_workload_identity_without_a_projected_token_is_refused(
    arm: LocalArm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    with pytest.raises(InvalidInputError, match="AZURE_FEDERATED_TOKEN_FILE"):
        _access(arm, "workload_identity", "").arm_token()


def test_tokens_are_renewed_as_they_expire(tls: LocalTls) -> None:
    with LocalArm(tls, token_seconds=1) as short:
        access = _access(short, "client_secret", DEMO_SECRET)
        first = access.arm_token()
        time.sleep(1.2)
        assert not short.token_valid(f"Bearer {first}")
        second = access.arm_token()
        assert second != first
        assert short.token_valid(f"Bearer {second}")


def test_a_refusal_is_an_auth_error_without_the_secret(arm: LocalArm) -> None:
    access = _access(arm, "client_secret", DEMO_SECRET)
    wrong = AzureAccess(
        identity=access.provider,
        open_secret=access.open_secret,
        settings=AzureSettings(
            arm_endpoint=arm.url, authority=f"{arm.url}/refused", ca_file=arm.tls.ca
        ),
    )
    with pytest.raises(AuthError) as caught:
        wrong.arm_token()
    assert access.provider.client_id in str(caught.value)
    assert DEMO_SECRET not in str(caught.value)


@pytest.mark.parametrize(
    "kind", ["client_secret", "client_assertion", "client_certificate", "workload_identity"]
)
def test_no_credential_reaches_the_provider_of_a_real_run(
    arm: LocalArm, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terraform's environment of a real run (``sandbox`` unset), built by the code every run
    uses: the provider is pointed at the run's endpoint, which hands it Resource Manager
    tokens made from the job's credential; no form of that credential is in the environment."""
    import urllib.request

    secret = {"client_certificate": _certificate_pem(), "workload_identity": ""}.get(
        kind, DEMO_SECRET
    )
    token_file = tmp_path / "token"
    token_file.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    access = _access(arm, kind, secret)
    assert access.settings.sandbox is None
    with run_environment(access) as (env, credentials):
        assert env["ARM_USE_MSI"] == "true"
        assert env["ARM_USE_OIDC"] == "false"
        assert env["ARM_CLIENT_ID"] == access.provider.client_id
        assert set(credentials) == {"ARM_MSI_ENDPOINT"}
        every = {**env, **credentials}
        for name in ("ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE", "ARM_OIDC_TOKEN"):
            assert name not in every
        assert "ARM_OIDC_TOKEN_FILE_PATH" not in every
        for value in every.values():
            assert not secret or secret not in value
            assert str(token_file) not in value
        # What the provider sends (go-azure-sdk's managed-identity authorizer).
        query = f"?api-version=2018-02-01&resource={arm.url}/&client_id={env['ARM_CLIENT_ID']}"
        request = urllib.request.Request(
            credentials["ARM_MSI_ENDPOINT"] + query, headers={"Metadata": "true"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            token = json.loads(answer.read())["access_token"]
    assert arm.token_valid(f"Bearer {token}")
    scopes = [r.scope for r in arm.state.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert scopes == [f"{arm.url}/.default"]


def test_cluster_access_gives_entra_tokens_for_the_aks_server_application(
    arm: LocalArm,
) -> None:
    import base64 as b64

    from qengine_azure.cluster_access import AKS_SCOPE, cluster_access_of

    access = _access(arm, "client_secret", DEMO_SECRET)
    outputs = {
        "endpoint": "https://prod-weu-abc123.hcp.westeurope.azmk8s.io:443",
        "certificate_authority": b64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode(),
        "cluster_name": "prod-weu",
        "oidc_issuer_url": "https://westeurope.oic.prod-aks.azure.com/t/c/",
    }
    cluster = cluster_access_of(access, outputs)
    assert cluster.ca_pem.startswith("-----BEGIN CERTIFICATE-----")
    assert cluster.extra["oidc_issuer_url"].startswith("https://westeurope.oic")
    token = cluster.token()
    assert arm.token_valid(f"Bearer {token}")
    scopes = [r.scope for r in arm.state.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert AKS_SCOPE in scopes[-1]
    assert token not in repr(cluster)
    with pytest.raises(InvalidInputError, match="no reachable cluster"):
        cluster_access_of(access, {"endpoint": "http://plain", "certificate_authority": ""})
