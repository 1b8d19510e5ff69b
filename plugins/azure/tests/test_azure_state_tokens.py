"""Terraform's state access through the run's managed-identity endpoint, on Azurite.

The real terraform's ``azurerm`` backend (``use_azuread_auth``, ``use_msi``) asks the run's
endpoint (:mod:`qengine_azure.token_endpoint`) for Storage tokens; the endpoint hands out the
job's tokens from the stand-in Entra ID through the real azure-identity; Azurite, in its OAuth
mode, checks each token's audience, issuer and lifetime. Tokens here live three seconds, and
a ``local-exec`` provisioner sleeps past the first one, so the state written after the apply
can only be written with a token obtained after the first expired.

A real run's provider asks the same endpoint for Resource Manager's tokens: the run below
builds Terraform's environment as a real run does (``sandbox`` unset, the code path of every
run) and, from inside terraform's process, asks the endpoint as the provider would. No
azurerm provider can be installed here, so the provider itself is not run.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure.credentials import AzureAccess
from qengine_azure.sandbox import sandbox_azure
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import StateLocation
from qengine_azure.terraform_run import terraform_for, token_resources
from qengine_azure.token_endpoint import RunTokenEndpoint

from qengine import AuthError, load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.runner import StepContext
from qengine.runner.steps import NoteKind, StepEmitter
from qengine.secrets.value import SecretValue
from qengine.terraform import ProviderSources

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"
LIFETIME = 3


class _Lines(StepEmitter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, step_id: str, kind: NoteKind, message: str) -> None:
        self.lines.append(message)


class _WatchedAccess(AzureAccess):
    """An access that keeps each Storage token it hands to the endpoint."""

    handed_out: list[tuple[str, int]]

    def token_for(self, scope: str) -> tuple[str, int]:
        found = super().token_for(scope)
        self.handed_out.append(found)
        return found


@pytest.fixture
def settings() -> Iterator[AzureSettings]:
    with sandbox_azure((ACCOUNT,)) as made:
        assert made.stand_in is not None
        made.stand_in.token_seconds = LIFETIME
        assert made.stand_in.on_container is not None
        made.stand_in.on_container(ACCOUNT, "tfstate")
        yield made


def _access(settings: AzureSettings) -> _WatchedAccess:
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(example())
    base = AzureAccess.of(job, lambda name: SecretValue(DEMO_SECRET), settings)  # type: ignore[arg-type]
    access = _WatchedAccess(identity=base.identity, open_secret=base.open_secret, settings=settings)
    access.handed_out = []
    return access


def _location(name: str) -> StateLocation:
    return StateLocation(
        resource_group="qengine-tfstate-westeurope",
        storage_account=ACCOUNT,
        container="tfstate",
        key=f"{name}.tfstate",
    )


def _context(emitter: StepEmitter) -> StepContext:
    return StepContext(
        job_id="job-tokens",
        organization_id="org-a",
        target_id="cluster-tokens",
        step_id="azure.apply",
        idempotency_key="job-tokens/azure.apply",
        cancel=CancelToken(),
        emitter=emitter,
    )


def _module(command: str) -> dict[str, Any]:
    return {
        "terraform": {"backend": {"azurerm": {}}},
        "resource": {
            "terraform_data": {
                "probe": {"input": "probe", "provisioner": [{"local-exec": {"command": command}}]}
            }
        },
        "output": {"probe": {"value": "${terraform_data.probe.output}"}},
    }


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _state(settings: AzureSettings, key: str) -> str:
    from azure.storage.blob import BlobClient

    assert settings.state_sas is not None
    assert settings.ca_file is not None
    blob = BlobClient(
        settings.account_url(ACCOUNT),
        "tfstate",
        key,
        credential=settings.state_sas(ACCOUNT),
        connection_verify=str(settings.ca_file),
    )
    return blob.download_blob().readall().decode()


def test_a_run_outliving_its_first_token_still_writes_its_state(settings: AzureSettings) -> None:
    access = _access(settings)
    location = _location("long")
    lines = _Lines()
    command = f"sleep {LIFETIME + 2}"  # past the first token's life
    with terraform_for(
        _context(lines),
        access,
        _module(command),
        location,
        allow_destructive=False,
        sources=ProviderSources(),
    ) as tf:
        tf.apply(tf.plan())
        assert tf.outputs()["probe"].value == "probe"
        files = b"".join(p.read_bytes() for p in tf.workspace.path.rglob("*") if p.is_file())
    state = _state(settings, "long.tfstate")
    assert '"terraform_data"' in state
    tokens = list(dict.fromkeys(token for token, _ in access.handed_out))
    assert len(tokens) >= 2
    first, last = _claims(tokens[0]), _claims(tokens[-1])
    # The last token handed out was made after the first one had expired: the state written
    # after the sleep was written with a renewed token, and Azurite checks each one's expiry.
    assert last["iat"] > first["exp"]
    for token in tokens:
        assert token not in state
        assert token.encode() not in files
        assert all(token not in line for line in lines.lines)
    assert b"ARM_MSI_ENDPOINT" not in files
    assert b"/metadata/identity" not in files
    assert all("/metadata/identity" not in line for line in lines.lines)


def test_the_backend_ignores_a_client_secret_in_its_environment(settings: AzureSettings) -> None:
    """Provider variables a host left in Terraform's environment are not taken up by the
    backend, which still uses the endpoint (the stand-in Entra ID named by the local cloud is
    unreachable, so a backend that used the secret would fail)."""
    decoy = {
        "ARM_CLIENT_SECRET": "decoy-secret",
        "ARM_CLIENT_ID": "12345678-90ab-cdef-1234-567890abcdef",
        "ARM_TENANT_ID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "ARM_USE_OIDC": "true",
        "ARM_OIDC_TOKEN": "decoy-assertion",
    }
    import attrs

    widened = attrs.evolve(settings, terraform_env={**settings.terraform_env, **decoy})
    access = _access(widened)
    location = _location("decoy")
    with terraform_for(
        _context(_Lines()),
        access,
        _module("true"),
        location,
        allow_destructive=False,
        sources=ProviderSources(),
    ) as tf:
        tf.apply(tf.plan())
    assert '"terraform_data"' in _state(settings, "decoy.tfstate")
    assert access.handed_out


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_endpoint_answers_only_its_secret_path_and_storage() -> None:
    def source(scope: str) -> tuple[str, int]:
        assert scope == "https://storage.azure.com/.default"
        return "the-token", 2_000_000_000

    with RunTokenEndpoint(source, now=lambda: 1_999_999_000) as endpoint:
        url = endpoint.url
        query = "?api-version=2018-02-01&resource=https%3A%2F%2Fstorage.azure.com"
        status, body = _get(url + query, {"Metadata": "true"})
        assert status == 200
        assert body["access_token"] == "the-token"
        assert body["expires_in"] == "1000"
        assert endpoint.served == 1
        port_root = url.split("/", 3)[:3]
        wrong_path = "/".join(port_root) + "/guess/metadata/identity/oauth2/token" + query
        assert _get(wrong_path, {"Metadata": "true"})[0] == 404
        assert _get(url + query)[0] == 400  # no Metadata header
        management = "?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com"
        assert _get(url + management, {"Metadata": "true"})[0] == 400
        assert endpoint.served == 1
    with pytest.raises(urllib.error.URLError, match="refused"):
        urllib.request.urlopen(url + query, timeout=2)  # stopped with the run


def test_a_refused_token_is_a_server_error_of_the_endpoint() -> None:
    def source(scope: str) -> tuple[str, int]:
        raise AuthError("Entra refused", hint="")

    with RunTokenEndpoint(source) as endpoint:
        query = "?api-version=2018-02-01&resource=https://storage.azure.com/"
        assert _get(endpoint.url + query, {"Metadata": "true"})[0] == 500
        assert endpoint.failures == ["AuthError"]


def test_the_endpoint_serves_the_providers_resources_and_refuses_others() -> None:
    scopes: list[str] = []

    def source(scope: str) -> tuple[str, int]:
        scopes.append(scope)
        return "the-token", 2_000_000_000

    resources = token_resources(AzureSettings())
    with RunTokenEndpoint(source, resources=resources, now=lambda: 1_999_999_000) as endpoint:
        for resource in ("https://management.azure.com/", "https://graph.microsoft.com/"):
            query = f"?api-version=2018-02-01&resource={resource}"
            status, body = _get(endpoint.url + query, {"Metadata": "true"})
            assert status == 200
            assert body["resource"] == resource.rstrip("/")
        for refused in ("https://vault.azure.net", "https://management.core.windows.net/"):
            query = f"?api-version=2018-02-01&resource={refused}"
            assert _get(endpoint.url + query, {"Metadata": "true"})[0] == 400
    assert scopes == [
        "https://management.azure.com/.default",
        "https://graph.microsoft.com/.default",
    ]
    assert endpoint.served_for == {
        "https://management.azure.com": 1,
        "https://graph.microsoft.com": 1,
    }


def test_a_real_runs_terraform_has_the_endpoint_and_no_credential(
    settings: AzureSettings, tmp_path: Path
) -> None:
    import attrs

    real = attrs.evolve(settings, sandbox=None)
    access = _access(real)
    seen = tmp_path / "seen"
    seen.mkdir()
    arm = f"{settings.arm_endpoint}/"
    # What terraform's process (and so the provider) gets, and what the provider's request
    # to the endpoint (go-azure-sdk's managed-identity authorizer) is answered.
    command = (
        f"env > {seen}/env && curl -sf -H Metadata:true "
        f'"$ARM_MSI_ENDPOINT?api-version=2018-02-01&resource={arm}&client_id=$ARM_CLIENT_ID"'
        f" > {seen}/arm.json"
    )
    lines = _Lines()
    with terraform_for(
        _context(lines),
        access,
        _module(command),
        _location("real"),
        allow_destructive=False,
        sources=ProviderSources(),
    ) as tf:
        tf.apply(tf.plan())
        workspace = tf.workspace.path
        files = b"".join(p.read_bytes() for p in workspace.rglob("*") if p.is_file())
    env = dict(
        line.split("=", 1) for line in (seen / "env").read_text().splitlines() if "=" in line
    )
    assert env["ARM_USE_MSI"] == "true"
    assert env["ARM_CLIENT_ID"] == access.provider.client_id
    assert env["ARM_MSI_ENDPOINT"].startswith("http://127.0.0.1:")
    for name in ("ARM_CLIENT_SECRET", "ARM_CLIENT_CERTIFICATE", "ARM_OIDC_TOKEN"):
        assert name not in env
    assert all(DEMO_SECRET not in value for value in env.values())
    arm_token = json.loads((seen / "arm.json").read_text())["access_token"]
    assert settings.stand_in is not None
    assert settings.stand_in.token_valid(f"Bearer {arm_token}")
    # The written workspace (module, lock file, backend settings, plan) holds none of them.
    tokens = [token for token, _ in access.handed_out]
    assert arm_token in tokens
    for secret in (DEMO_SECRET, env["ARM_MSI_ENDPOINT"], *tokens):
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form.encode() not in files
            assert all(form not in line for line in lines.lines)
