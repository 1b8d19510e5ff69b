"""The oci registry against real Distribution registries (plain HTTP; TLS with htpasswd)."""

from __future__ import annotations

import base64
import json

import pytest
from oci_support import DOCKER_MANIFEST, OCI_MANIFEST, PASSWORD, USER, push_image, push_index
from qengine_oci.registry import OciContainerRegistry, dockerconfigjson
from qengine_oci.spec import OciRegistry

from qengine import AuthError, InfrastructureError, InvalidInputError
from qengine.secrets.value import SecretValue
from qengine.spec import SecretName, SecretRef, Url
from qengine.testing.registry import LocalRegistry


def _plain(registry: LocalRegistry, prefix: str = "") -> OciContainerRegistry:
    spec = OciRegistry(kind="oci", url=Url(registry.url), repository_prefix=prefix, insecure=True)
    return OciContainerRegistry(spec)


def _secure(
    registry: LocalRegistry, password: str = PASSWORD, *, ca: bool = True, insecure: bool = False
) -> OciContainerRegistry:
    spec = OciRegistry(
        kind="oci",
        url=Url(registry.url),
        username=USER,
        password=SecretRef(secret=SecretName("registry-password")),
        ca_certificate=registry.ca_pem if ca else None,
        insecure=insecure,
    )
    return OciContainerRegistry(spec, password=SecretValue(password))


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_exists_list_and_delete(plain_registry: LocalRegistry, media_type: str) -> None:
    registry = _plain(plain_registry)
    repository = f"team/app-{media_type.split('.')[-1].split('+')[0]}"
    assert not registry.image_exists(repository, "v1")
    assert registry.list_tags(repository) == []
    digest = push_image(registry.client, repository, "v1", media_type=media_type)
    push_image(registry.client, repository, "v2", media_type=media_type)
    assert registry.image_exists(repository, "v1")
    assert registry.digest_of(repository, "v1") == digest
    assert sorted(registry.list_tags(repository)) == ["v1", "v2"]
    registry.delete_image(repository, "v1")
    assert not registry.image_exists(repository, "v1")
    registry.delete_image(repository, "v1")  # a missing image is a no-op


def test_an_index_exists(plain_registry: LocalRegistry) -> None:
    registry = _plain(plain_registry)
    digest = push_index(registry.client, "multi/app", "v1")
    assert registry.digest_of("multi/app", "v1") == digest


def test_repository_prefix_and_bad_names(plain_registry: LocalRegistry) -> None:
    registry = _plain(plain_registry, prefix="org/team")
    assert registry.ensure_repository("web") == f"{plain_registry.host}/org/team/web"
    with pytest.raises(InvalidInputError) as info:
        registry.ensure_repository("Web")
    assert "lower case" in (info.value.hint or "")


def test_tls_and_htpasswd(secure_registry: LocalRegistry) -> None:
    registry = _secure(secure_registry)
    assert not registry.image_exists("private/app", "v1")
    push_image(registry.client, "private/app", "v1")
    assert registry.image_exists("private/app", "v1")
    assert registry.list_tags("private/app") == ["v1"]
    assert _secure(secure_registry, ca=False, insecure=True).image_exists("private/app", "v1")


def test_wrong_password_is_an_auth_error(secure_registry: LocalRegistry) -> None:
    registry = _secure(secure_registry, password="not-the-password")
    with pytest.raises(AuthError) as info:
        registry.image_exists("private/app", "v1")
    assert "401" in info.value.message
    assert "password" in (info.value.hint or "")
    assert "not-the-password" not in str(info.value)


def test_no_credentials_is_an_auth_error(secure_registry: LocalRegistry) -> None:
    spec = OciRegistry(
        kind="oci", url=Url(secure_registry.url), ca_certificate=secure_registry.ca_pem
    )
    with pytest.raises(AuthError) as info:
        OciContainerRegistry(spec).image_exists("private/app", "v1")
    assert "username and password" in (info.value.hint or "")


def test_untrusted_certificate_is_explained(secure_registry: LocalRegistry) -> None:
    with pytest.raises(InfrastructureError) as info:
        _secure(secure_registry, ca=False).image_exists("private/app", "v1")
    assert "ca_certificate" in (info.value.hint or "")


def test_pull_secret_payload(secure_registry: LocalRegistry) -> None:
    payload = json.loads(_secure(secure_registry).pull_secret_payload())
    auth = payload["auths"][secure_registry.host]["auth"]
    assert base64.b64decode(auth).decode() == f"{USER}:{PASSWORD}"
    assert (
        dockerconfigjson(_secure(secure_registry).credentials())
        == _secure(secure_registry).pull_secret_payload()
    )


def test_checks_refuse_a_bad_prefix_and_url() -> None:
    import qengine_oci.plugin

    from qengine import load_plugins
    from qengine.spec import load_job

    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "InfrastructureJob",
        "id": "j1",
        "organization": {"id": "o1"},
        "actor": {"id": "a1"},
        "action": "create",
        "cluster": {
            "id": "c1",
            "name": "c1",
            "kubernetes_version": "1.31",
            "provider": {"kind": "test", "steps": "noop"},
        },
        "registry": {"kind": "oci", "url": "oci://r.example.com", "repository_prefix": "Team/Apps"},
    }
    import qengine.testing.plugin

    plugins = load_plugins(
        autoload=False, plugins=[("oci", qengine_oci.plugin), ("test", qengine.testing.plugin)]
    )
    job = load_job(document, plugins.registry.section_kinds())
    issues = [i for found in plugins.manager.hook.qengine_check_job(job=job) for i in found]
    assert sorted(i.path for i in issues) == ["$.registry.repository_prefix", "$.registry.url"]
    assert any("lower case" in i.message for i in issues)


def test_the_engine_builds_it_and_the_password_is_opened_on_first_use() -> None:
    import qengine_oci.plugin

    import qengine.testing.plugin
    from qengine import Engine, load_plugins
    from qengine.runner import MemoryStateStore

    plugins = load_plugins(
        autoload=False, plugins=[("oci", qengine_oci.plugin), ("test", qengine.testing.plugin)]
    )
    document = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": "j1",
        "organization": {"id": "o1"},
        "actor": {"id": "a1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "noop"},
        "registry": {
            "kind": "oci",
            "url": "https://registry.example.com:5443",
            "username": USER,
            "password": {"secret": "registry_password"},
            "ca_certificate": "-----BEGIN CERTIFICATE-----\n",
        },
        "environment": {"id": "e1", "name": "e1", "services": []},
    }
    engine = Engine(plugins, store=MemoryStateStore())
    services = engine.accept(document, sandbox_secrets={"registry_password": PASSWORD}).services
    registry = services.container_registry()
    assert isinstance(registry, OciContainerRegistry)
    assert (registry.host, registry.tls_verify) == ("registry.example.com:5443", True)
    assert registry.ca_pem == "-----BEGIN CERTIFICATE-----\n"
    assert registry.repository_of("web") == "web"
    assert services.secrets.redact(PASSWORD) == PASSWORD  # only an opened secret is redacted
    credentials = registry.credentials()
    assert (credentials.server, credentials.username) == ("registry.example.com:5443", USER)
    assert credentials.password == PASSWORD
    assert PASSWORD not in services.secrets.redact(PASSWORD)
