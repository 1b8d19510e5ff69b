"""The artifact-registry registry against a local Artifact Registry fake (no emulator exists;
the fake serves the REST calls the registry makes, with the API's shapes)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from gcp_support import REPO
from qengine_gcp.artifact_registry import ArtifactRegistryContainerRegistry
from qengine_gcp.sandbox_artifact_registry import LocalArtifactRegistry
from qengine_gcp.settings import GcpSettings

from qengine import SpecError, load_plugins
from qengine.plugin import AuthError, InfrastructureError, JobSecrets, JobServices
from qengine.retry import RetryPolicy

TOKEN = "ya29.registry-test-token"
REPOSITORY = "projects/acme-platform-prod/locations/europe-west1/repositories/qengine"
DIGEST = "sha256:" + "ab" * 32


def _document(**registry: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((REPO / "examples/quickstart/job.json").read_text())
    document["registry"] = {
        "kind": "artifact-registry",
        "project": "acme-platform-prod",
        "location": "europe-west1",
        "service_account": "qengine-builder@acme-platform-prod.iam.gserviceaccount.com",
        **registry,
    }
    return document


def _registry(
    fake: LocalArtifactRegistry, token: str = TOKEN, **section: Any
) -> ArtifactRegistryContainerRegistry:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    settings = GcpSettings(
        artifact_registry_endpoint=fake.url,
        sandbox_token=token,
        poll_interval=0.01,
        poll=RetryPolicy(max_attempts=20, max_elapsed_seconds=10.0, initial_backoff=0.01),
    )
    services = JobServices(
        job=plugins.loader.load(_document(**section)),
        secrets=JobSecrets(None),
        registry=plugins.registry,
        settings={"gcp": settings},
    )
    registry = services.container_registry()
    assert isinstance(registry, ArtifactRegistryContainerRegistry)
    return registry


@pytest.fixture
def fake() -> Iterator[LocalArtifactRegistry]:
    with LocalArtifactRegistry(token=TOKEN) as server:
        yield server


def test_the_repository_is_created_once_docker_immutable_labelled(
    fake: LocalArtifactRegistry,
) -> None:
    registry = _registry(fake)
    uri = registry.ensure_repository("web")
    assert uri == "europe-west1-docker.pkg.dev/acme-platform-prod/qengine/web"
    created = fake.repositories[REPOSITORY]
    assert created["format"] == "DOCKER"
    assert created["dockerConfig"] == {"immutableTags": True}
    assert created["labels"] == {"managed-by": "qengine"}
    assert any(name.endswith("/operations/op-1") for _, name in fake.calls)  # polled
    registry.ensure_repository("worker")
    again = _registry(fake)
    again.ensure_repository("web")
    assert [m for m, _ in fake.calls].count("POST") == 1


def test_tag_immutability_is_corrected(fake: LocalArtifactRegistry) -> None:
    _registry(fake).ensure_repository("web")
    _registry(fake, immutable_tags=False).ensure_repository("web")
    assert fake.repositories[REPOSITORY]["dockerConfig"] == {"immutableTags": False}


def test_a_repository_of_another_format_is_refused(fake: LocalArtifactRegistry) -> None:
    fake.repositories[REPOSITORY] = {"name": REPOSITORY, "format": "NPM"}
    with pytest.raises(InfrastructureError, match="holds NPM"):
        _registry(fake).ensure_repository("web")


def test_digests_existence_and_deletion(fake: LocalArtifactRegistry) -> None:
    registry = _registry(fake)
    registry.ensure_repository("web")
    fake.push(REPOSITORY, "web", "1.4.2", DIGEST)
    path = registry.repository_of("web")
    assert registry.digest_of(path, "1.4.2") == DIGEST
    assert registry.digest_of(path, DIGEST) == DIGEST
    assert registry.image_exists(path, "1.4.2")
    assert not registry.image_exists(path, "9.9.9")
    registry.delete_image(path, "1.4.2")
    assert not registry.image_exists(path, "1.4.2")
    registry.delete_image(path, "1.4.2")  # a missing image: no-op


def test_credentials_are_the_current_token_never_in_repr(fake: LocalArtifactRegistry) -> None:
    registry = _registry(fake)
    found = registry.credentials()
    assert (found.server, found.username) == ("europe-west1-docker.pkg.dev", "oauth2accesstoken")
    assert found.password == TOKEN
    assert TOKEN not in repr(found)
    payload = json.loads(registry.pull_secret_payload())
    auth = payload["auths"]["europe-west1-docker.pkg.dev"]["auth"]
    assert base64.b64decode(auth).decode() == f"oauth2accesstoken:{TOKEN}"


def test_a_refused_token_is_an_auth_error(fake: LocalArtifactRegistry) -> None:
    with pytest.raises(AuthError):
        _registry(fake, token="ya29.someone-else").ensure_repository("web")


def test_bad_sections_are_refused_offline() -> None:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp,kubernetes"})
    with pytest.raises(SpecError) as caught:
        plugins.loader.load(_document(location="mars", repository="Team_Apps"))
    paths = {issue.path for issue in caught.value.issues}
    assert paths == {"$.registry.location", "$.registry.repository"}
