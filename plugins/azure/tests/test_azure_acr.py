"""The acr registry against a local stand-in of ACR (no emulator exists): ACR's
``/oauth2/exchange`` and ``/oauth2/token`` (``qengine_azure.sandbox_acr``) in front of a real
Distribution registry, with Entra tokens from the plugin's local Entra ID through the real
azure-identity. The registry is built by the engine from a job's ``registry`` section, as a
host's run does; images are pushed by the real buildah through the buildah backend, pulled by
the real skopeo with the pull secret."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure_support import DEMO_SECRET, QUICKSTART, run_qengine
from qengine_azure.acr import AcrContainerRegistry
from qengine_azure.acr_auth import NULL_USER
from qengine_azure.local_arm import LocalArm
from qengine_azure.local_tls import make_tls
from qengine_azure.sandbox_acr import TENANT, LocalAcr, run_acr
from qengine_azure.settings import AzureSettings
from qengine_buildah.backend import BuildahBackend

from qengine import AuthError, Engine, SpecError, load_plugins
from qengine.plugin import BuildRequest, CancelToken
from qengine.runner import MemoryStateStore
from qengine.secrets.hygiene import child_env, write_private_file
from qengine.secrets.redaction import Redactor

CLIENT = "12345678-90ab-cdef-1234-567890abcdef"


def _document(**registry: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(QUICKSTART.read_text())
    document["registry"] = {
        "kind": "acr",
        "name": "contosoapps",
        "tenant_id": TENANT,
        "client_id": CLIENT,
        "client_secret": {"secret": "acr-secret"},
        **registry,
    }
    return document


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalArm]:
    with LocalArm(make_tls(tmp_path_factory.mktemp("tls"), ("localhost",))) as server:
        yield server


@pytest.fixture(scope="module")
def acr(arm: LocalArm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAcr]:
    with run_acr(tmp_path_factory.mktemp("acr"), arm) as running:
        yield running


def _registry(arm: LocalArm, acr: LocalAcr, **section: Any) -> AcrContainerRegistry:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    settings = AzureSettings(
        arm_endpoint=arm.url,
        authority=arm.url,
        ca_file=arm.tls.ca,
        acr_endpoint=lambda server: acr.registry.url,
    )
    engine = Engine(plugins, store=MemoryStateStore(), settings={"azure": settings})
    secrets = json.loads((QUICKSTART.parent / "secrets.json").read_text())
    secrets["acr-secret"] = DEMO_SECRET
    accepted = engine.accept(_document(**section), sandbox_secrets=secrets, consume=False)
    registry = accepted.services.container_registry()
    assert isinstance(registry, AcrContainerRegistry)
    return registry


def _leaks(secret: str, text: str) -> bool:
    """Whether any form of ``secret`` the project's redactor knows is in ``text``."""
    return Redactor([secret]).redact(text) != text


def _build(registry: AcrContainerRegistry, tmp_path: Path, tag: str) -> tuple[str, list[str]]:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    (context / "hello").write_text(f"hello {tag}\n")
    (tmp_path / "work").mkdir()
    image = f"{registry.ensure_repository('web')}:{tag}"
    request = BuildRequest(
        context=context,
        dockerfile=context / "Dockerfile",
        image=image,
        tls_verify=registry.tls_verify,
    )
    lines: list[str] = []
    built = BuildahBackend(temp_base=tmp_path / "work").build_and_push(
        request, registry.credentials(), CancelToken(), lines.append
    )
    assert list((tmp_path / "work").iterdir()) == []  # the auth file is gone with the rest
    return built.digest, lines


def test_the_entra_token_is_exchanged_once_for_the_null_users_refresh_token(
    arm: LocalArm, acr: LocalAcr
) -> None:
    registry = _registry(arm, acr)
    assert registry.host == acr.registry.host
    before = len(acr.oauth.grants())
    found = registry.credentials()
    assert (found.server, found.username) == (acr.registry.host, NULL_USER)
    assert found.password == acr.oauth.refresh_token
    assert not _leaks(found.password, repr(found) + repr(registry))
    assert registry.credentials().password == found.password  # held, not asked again
    assert acr.oauth.grants()[before:] == ["access_token"]
    entra = [r for r in arm.state.requests if r.grant == "client_credentials"]
    assert entra
    assert entra[-1].proof == "secret"
    assert entra[-1].scope == f"{arm.url}/.default"  # Resource Manager's scope


def test_a_build_pushes_with_it_and_the_digest_is_found_through_v2(
    arm: LocalArm, acr: LocalAcr, tmp_path: Path
) -> None:
    registry = _registry(arm, acr)
    repository = registry.repository_of("web")
    assert repository == "qengine/web"
    assert registry.digest_of(repository, "v1") is None
    assert not registry.image_exists(repository, "v1")
    digest, lines = _build(registry, tmp_path, "v1")
    assert digest.startswith("sha256:")
    assert registry.digest_of(repository, "v1") == digest
    assert registry.digest_of(repository, digest) == digest
    assert "basic" in acr.oauth.grants()  # buildah logged in as the null user
    assert "refresh_token" in acr.oauth.grants()  # the engine's own lookups
    assert not any(_leaks(acr.oauth.refresh_token, line) for line in lines)
    registry.delete_image(repository, "v1")
    assert registry.digest_of(repository, "v1") is None
    registry.delete_image(repository, "v1")  # a missing image: no-op


def test_the_pull_secret_pulls_with_the_refresh_token_in_auth_only(
    arm: LocalArm, acr: LocalAcr, tmp_path: Path
) -> None:
    registry = _registry(arm, acr)
    digest, _ = _build(registry, tmp_path, "v2")
    payload = registry.pull_secret_payload()
    entry = json.loads(payload)["auths"][acr.registry.host]
    assert set(entry) == {"auth"}
    pair = base64.b64decode(entry["auth"]).decode()
    assert pair == f"{NULL_USER}:{acr.oauth.refresh_token}"
    authfile = write_private_file(tmp_path, "auth.json", payload)
    inspected = subprocess.run(
        [
            "skopeo",
            "inspect",
            "--authfile",
            str(authfile),
            "--tls-verify=false",
            f"docker://{acr.registry.host}/qengine/web:v2",
        ],
        capture_output=True,
        text=True,
        env=child_env(("PATH",), {"HOME": str(tmp_path)}),
        check=False,
        timeout=60,
    )
    assert inspected.returncode == 0, inspected.stderr
    assert json.loads(inspected.stdout)["Digest"] == digest
    image = f"docker://{acr.registry.host}/qengine/web:v2"
    anonymous = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", "--no-creds", image],
        capture_output=True,
        text=True,
        env=child_env(("PATH",), {"HOME": str(tmp_path)}),
        check=False,
        timeout=60,
    )
    assert anonymous.returncode != 0  # the registry really asks for the token


def test_a_401_from_the_exchange_is_an_auth_error_asking_for_acrpush(
    arm: LocalArm, acr: LocalAcr
) -> None:
    other_tenant = "ffffffff-bbbb-cccc-dddd-eeeeeeeeeeee"
    registry = _registry(arm, acr, tenant_id=other_tenant)
    with pytest.raises(AuthError) as caught:
        registry.credentials()
    message = str(caught.value)
    assert "401" in message
    assert "UNAUTHORIZED" in message
    assert f"client {CLIENT}" in message
    assert caught.value.hint is not None
    assert "AcrPush" in caught.value.hint
    assert not _leaks(DEMO_SECRET, message + caught.value.hint)
    assert not _leaks(acr.oauth.refresh_token, message)


def test_an_entra_token_acr_does_not_accept_is_a_401_with_acrs_error(
    arm: LocalArm, acr: LocalAcr
) -> None:
    registry = _registry(arm, acr)
    registry.tokens.challenge()
    registry._access.arm_token()  # azure-identity holds a token now...
    with arm.state.lock:
        arm.state.tokens.clear()  # ...that the token's issuer no longer vouches for
    with pytest.raises(AuthError) as caught:
        registry.credentials()
    assert "The AAD access token is invalid or expired." in str(caught.value)
    assert "AcrPush" in (caught.value.hint or "")


def test_a_refresh_token_near_its_end_is_exchanged_again(
    arm: LocalArm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with run_acr(tmp_path_factory.mktemp("short"), arm, refresh_seconds=30 * 60) as short:
        registry = _registry(arm, short)
        assert registry.credentials().password == short.oauth.refresh_token
        registry.credentials()
        assert short.oauth.grants() == ["access_token", "access_token"]


def test_a_refused_refresh_token_is_an_auth_error_without_the_token(
    arm: LocalArm, acr: LocalAcr, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _registry(arm, acr)
    registry.credentials()
    real = acr.oauth.refresh_token
    monkeypatch.setattr(acr.oauth, "refresh_token", "revoked-" + real)  # ACR revoked it
    with pytest.raises(AuthError) as caught:
        registry.digest_of("qengine/web", "v1")
    assert "AcrPush" in (caught.value.hint or "")
    assert f"client {CLIENT}" in str(caught.value)
    assert not _leaks(real, str(caught.value))


def test_sovereign_login_servers_are_accepted_offline() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    for server in ("contosoapps.azurecr.cn", "ContosoApps.azurecr.us", "contosoapps.azurecr.io"):
        job = plugins.loader.load(_document(login_server=server))
        assert job.registry is not None


def test_login_servers_with_a_domain_name_label_hash_are_accepted_offline() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    for server in (
        "contosoapps-e7ggejfuhzhgedc8.azurecr.io",
        "ContosoApps-E7GGEJFUHZHGEDC8.azurecr.io",  # host names are case-insensitive
        "contosoapps-0123456789abcdef.azurecr.us",
    ):
        job = plugins.loader.load(_document(login_server=server))
        assert job.registry is not None


@pytest.mark.parametrize(
    "server",
    [
        "contosoapps-e7ggejfuhzhgedc.azurecr.io",  # 15 characters
        "contosoapps-e7ggejfuhzhgedc88.azurecr.io",  # 17 characters
        "contosoapps-e7ggejfu_hzhgedc.azurecr.io",
        "contosoapps--e7ggejfuhzhgedc8.azurecr.io",
        "otherapps-e7ggejfuhzhgedc8.azurecr.io",  # another registry's
        "contosoapps-e7ggejfuhzhgedc8.example.com",
        "contosoapps.e7ggejfuhzhgedc8.azurecr.io",
    ],
)
def test_other_login_servers_are_refused_at_their_path(server: str) -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure,kubernetes"})
    with pytest.raises(SpecError) as refused:
        plugins.loader.load(_document(login_server=server))
    [issue] = [line for line in str(refused.value).splitlines() if "$." in line]
    assert issue.strip().startswith("$.registry.login_server: must be the registry's login")
    assert "contosoapps-<16 lower-case letters and digits>.azurecr.io" in issue


def test_validate_refuses_a_bad_section_with_exit_2_naming_the_paths(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    bad = _document(
        name="contoso-apps", login_server="contoso.example.com", repository_prefix="Team/"
    )
    bad["registry"]["tenant_id"] = "contoso.onmicrosoft.com"
    spec.write_text(json.dumps(bad))
    done = run_qengine(tmp_path, "validate", str(spec))
    assert done.returncode == 2, done.stderr
    for path in ("$.registry.name", "$.registry.tenant_id", "$.registry.repository_prefix"):
        assert path in done.stderr
    spec.write_text(json.dumps(_document(name="contosoapps", login_server="other.azurecr.io")))
    done = run_qengine(tmp_path, "validate", str(spec))
    assert done.returncode == 2
    assert "$.registry.login_server" in done.stderr
    assert "contosoapps.azurecr.io" in done.stderr


def test_validating_an_acr_job_imports_no_azure_sdk(tmp_path: Path) -> None:
    spec = tmp_path / "job.json"
    spec.write_text(json.dumps(_document()))
    probe = (
        "import json, runpy, sys\n"
        "sys.argv = ['qengine', 'validate', sys.argv[1]]\n"
        "try:\n"
        "    runpy.run_module('qengine', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    code = exc.code\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(spec)],
        capture_output=True,
        text=True,
        env=child_env(("PATH",), {"HOME": str(tmp_path), "QENGINE_PLUGINS": "azure,kubernetes"}),
        check=True,
    )
    code, modules = json.loads(done.stdout.splitlines()[-1])
    assert code == 0, done.stderr
    assert "qengine_azure.checks" in modules  # the section was checked
    denied = ("azure", "ssl", "urllib.request", "qengine_azure.acr", "qengine_azure.acr_auth")
    assert [m for m in modules if m in denied or m.startswith("azure.")] == []
