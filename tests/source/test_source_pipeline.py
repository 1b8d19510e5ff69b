"""The core's build steps through the Engine, with a build backend and a registry registered by
a plugin the way any third party's are: what the backend is given, what the steps output, and
the registry check every build kind gets from the core."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

import qengine.testing.plugin
from qengine import Engine, Event, SpecError, load_plugins
from qengine.cli import main
from qengine.plugin import (
    BuildBackend,
    BuildRequest,
    BuiltImage,
    CancelToken,
    ContainerRegistry,
    JobServices,
    Registry,
    RegistryCredentials,
    SecretValue,
    hookimpl,
)
from qengine.runner import MemoryStateStore
from qengine.source import BUILD_SETTINGS, BuildSettings
from qengine.spec import BuildSpec, RegistrySpec
from qengine.testing.git_server import GitServer, make_repository, serve_git

SECRET = "pipeline-build-secret-5150"
DIGEST = "sha256:" + "ab" * 32


@attrs.frozen(kw_only=True)
class FakeBuild(BuildSpec):
    kind: Literal["fake"]


@attrs.frozen(kw_only=True)
class MemoryRegistrySpec(RegistrySpec):
    kind: Literal["memory"]
    prefix: str = "apps"


class MemoryRegistry(ContainerRegistry):
    """Images in a dict; plain HTTP with a CA, so the request's TLS fields are seen."""

    def __init__(self, images: dict[tuple[str, str], str], section: MemoryRegistrySpec) -> None:
        self._images, self._section = images, section
        self.ensured: list[str] = []

    @property
    def host(self) -> str:
        return "127.0.0.1:5999"

    @property
    def tls_verify(self) -> bool:
        return False

    @property
    def ca_pem(self) -> str | None:
        return "CA"

    def repository_of(self, name: str) -> str:
        return f"{self._section.prefix}/{name}"

    def ensure_repository(self, name: str) -> str:
        self.ensured.append(name)
        return f"{self.host}/{self.repository_of(name)}"

    def credentials(self) -> RegistryCredentials:
        return RegistryCredentials(server=self.host, username="u", password="p")

    def digest_of(self, repository: str, reference: str) -> str | None:
        return self._images.get((repository, reference))

    def delete_image(self, repository: str, tag: str) -> None:
        self._images.pop((repository, tag), None)


class FakeBackend(BuildBackend):
    """Records each request and "pushes" by adding the image to the registry's dict."""

    def __init__(self, plugin: FakeBuilds) -> None:
        self._plugin = plugin

    def build_and_push(
        self,
        request: BuildRequest,
        credentials: RegistryCredentials,
        cancel: CancelToken,
        log: Callable[[str], None],
    ) -> BuiltImage:
        secrets = {name: value.reveal() for name, value in request.secret_args.items()}
        files = sorted(path.name for path in request.context.iterdir())
        self._plugin.seen.append((request, credentials, secrets, files))
        log(f"building {request.image} from {request.dockerfile.name}")
        name, tag = request.image.split("/", 1)[1].rsplit(":", 1)
        self._plugin.images[(name, tag)] = DIGEST
        return BuiltImage(image=request.image, digest=DIGEST)


class FakeBuilds:
    """A plugin providing the ``fake`` build backend and the ``memory`` registry."""

    def __init__(self) -> None:
        self.images: dict[tuple[str, str], str] = {}
        self.seen: list[tuple[BuildRequest, RegistryCredentials, dict[str, str], list[str]]] = []
        self.registries: list[MemoryRegistry] = []

    def _registry(self, section: MemoryRegistrySpec, _services: JobServices) -> MemoryRegistry:
        built = MemoryRegistry(self.images, section)
        self.registries.append(built)
        return built

    @hookimpl
    def qengine_register(self, registry: Registry) -> None:
        registry.add_build_backend("fake", FakeBuild, lambda _s, _v: FakeBackend(self))
        registry.add_registry("memory", MemoryRegistrySpec, self._registry)


@pytest.fixture
def git(tmp_path: Path) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    files = {"app/Dockerfile": b"FROM scratch\n", "app/index.html": b"hi\n"}
    sha = make_repository(root, "web.git", files)
    with serve_git(root) as server:
        yield server, sha


def _document(server: GitServer, sha: str, **changes: Any) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    document: dict[str, Any] = {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"pipeline-{now.timestamp()}",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "target": {"kind": "test", "steps": "noop"},
        "build": {"kind": "fake", "platform": "linux/arm64", "cache": "cache/apps"},
        "registry": {"kind": "memory"},
        "environment": {
            "id": "e1",
            "name": "e1",
            "services": [
                {
                    "kind": "application",
                    "name": "web",
                    "git": {"url": server.url_of("web.git"), "commit": sha, "root_path": "app"},
                    "build_args": {"MODE": "prod", "TOKEN": {"secret": "token"}},
                    "build_target": "runtime",
                    "build_timeout": "2m",
                }
            ],
        },
    }
    document.update(changes)
    return document


def _engine(plugin: FakeBuilds, **settings: object) -> Engine:
    plugins = load_plugins(
        autoload=False, plugins=[("test", qengine.testing.plugin), ("fake", plugin)]
    )
    return Engine(plugins, store=MemoryStateStore(), settings=settings)


def test_the_backend_gets_everything_in_the_request(
    git: tuple[GitServer, str], tmp_path: Path
) -> None:
    server, sha = git
    plugin = FakeBuilds()
    work = tmp_path / "work"
    work.mkdir()
    engine = _engine(plugin, **{BUILD_SETTINGS: BuildSettings(temp_base=work)})
    events: list[Event] = []
    result = engine.run(
        _document(server, sha), on_event=events.append, sandbox_secrets={"token": SECRET}
    )
    assert result.status.value == "succeeded", [e.message for e in events][-5:]
    outputs = result.outputs["build/web"]
    assert outputs["image"].startswith(f"127.0.0.1:5999/apps/web:qe-{sha[:12]}-")
    assert (outputs["digest"], outputs["built"]) == (DIGEST, "true")
    ((request, credentials, secrets, files),) = plugin.seen
    assert request.image == outputs["image"]
    assert files == ["Dockerfile", "index.html"]  # the context is root_path of the checkout
    assert request.dockerfile.name == "Dockerfile"
    assert dict(request.build_args) == {"MODE": "prod"}
    assert secrets == {"TOKEN": SECRET}
    assert all(isinstance(v, SecretValue) for v in request.secret_args.values())
    assert (request.target, request.platform, request.timeout_seconds) == (
        "runtime",
        "linux/arm64",
        120.0,
    )
    assert request.cache_from == request.cache_to == "127.0.0.1:5999/cache/apps"
    assert (request.tls_verify, request.ca_pem) == (False, "CA")
    assert credentials.username == "u"
    assert [r.ensured for r in plugin.registries] == [["web"]]
    logs = [e.message for e in events if e.step_id == "build/web" and e.type.value == "log"]
    assert f"building {request.image} from Dockerfile" in logs
    assert SECRET not in json.dumps([e.to_json_object() for e in events])
    assert list(work.iterdir()) == []  # the checkout was made there, and removed


def test_an_image_in_the_registry_is_not_built_again(git: tuple[GitServer, str]) -> None:
    server, sha = git
    plugin = FakeBuilds()
    engine = _engine(plugin)
    first = engine.run(_document(server, sha), sandbox_secrets={"token": SECRET})
    fetches = len(server.paths)
    again = engine.run(_document(server, sha), sandbox_secrets={"token": SECRET})
    assert again.outputs["build/web"] == {**first.outputs["build/web"], "built": "false"}
    assert len(plugin.seen) == 1
    assert len(server.paths) == fetches  # no git traffic when the image exists


def test_one_build_step_per_application_service_of_a_deploy(git: tuple[GitServer, str]) -> None:
    server, sha = git
    document = _document(server, sha)
    web = document["environment"]["services"][0]
    document["environment"]["services"] = [web, {**web, "name": "api"}]
    engine = _engine(FakeBuilds())

    def build_steps(**changes: Any) -> list[str]:
        accepted = engine.accept(
            {**document, **changes}, sandbox_secrets={"token": SECRET}, consume=False
        )
        plan = engine.plan(accepted)
        return [step.id for step in plan.steps if step.id.startswith("build/")]

    assert build_steps() == ["build/web", "build/api"]
    assert build_steps(services=["api"]) == ["build/api"]
    assert build_steps(action="restart") == []


def test_a_build_without_a_registry_is_refused_for_every_build_kind(
    git: tuple[GitServer, str], tmp_path: Path
) -> None:
    server, sha = git
    document = _document(server, sha)
    del document["registry"]
    with pytest.raises(SpecError) as info:
        _engine(FakeBuilds()).accept(document)
    assert [issue.path for issue in info.value.issues] == ["$.registry"]
    assert "fake build" in info.value.issues[0].message
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**document, "build": {"kind": "buildah"}}))
    stderr = io.StringIO()
    with redirect_stderr(stderr):
        code = main(["--plugin", "qengine.testing.plugin", "validate", str(path)])
    assert code == 2
    assert "$.registry" in stderr.getvalue()
