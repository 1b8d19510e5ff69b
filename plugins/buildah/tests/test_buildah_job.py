"""A whole environment job through the Engine: source over git smart HTTP with a token, a
secret build argument, a TLS registry with htpasswd; then the same job again (no build).

Afterwards the git token, the registry password and the secret build argument are searched
for in the job's events, in every blob of the pushed image and in every file left on disk."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qengine_buildah.plugin
import qengine_oci.plugin
from buildah_support import PASSWORD, USER, client_for, image_blobs, layer_files
from qengine_oci.mirror import mirror_image
from qengine_oci.registry import OciContainerRegistry
from qengine_oci.spec import OciRegistry

import qengine.testing.plugin
from qengine import Engine, Event, InvalidInputError, load_plugins
from qengine.plugin import CancelToken, SecretValue
from qengine.runner import MemoryStateStore
from qengine.source import BUILD_SETTINGS, BuildSettings
from qengine.spec import SecretName, SecretRef, Url
from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.registry import LocalRegistry

GIT_TOKEN = "git-token-4c0ffee5eed1234"
BUILD_SECRET = "npm-secret-77aa88bb99cc"


@pytest.fixture(scope="module")
def secure_base(
    secure_registry: LocalRegistry, plain_registry: LocalRegistry, base_image: str
) -> str:
    """The busybox base mirrored by digest into the authenticated registry."""
    source = OciContainerRegistry(
        OciRegistry(kind="oci", url=Url(plain_registry.url), insecure=True)
    )
    name = base_image.split("/", 1)[1]
    repository, tag = name.split(":")
    digest = source.digest_of(repository, tag)
    destination = OciContainerRegistry(
        OciRegistry(
            kind="oci",
            url=Url(secure_registry.url),
            username=USER,
            password=SecretRef(secret=SecretName("p")),
            ca_certificate=secure_registry.ca_pem,
        ),
        password=SecretValue(PASSWORD),
    )
    return mirror_image(
        f"{plain_registry.host}/{repository}@{digest}",
        destination,
        "mirror/busybox",
        cancel=CancelToken(),
        on_line=lambda _l: None,
        source_tls_verify=False,
    )


@pytest.fixture
def git(tmp_path: Path, secure_base: str) -> Iterator[tuple[GitServer, str]]:
    root = tmp_path / "repos"
    root.mkdir()
    sha = make_repository(
        root,
        "web.git",
        {
            "services/web/docker/Dockerfile": (
                f"FROM {secure_base}\nARG MODE\n"
                "RUN --mount=type=secret,id=NPM_TOKEN wc -c < /run/secrets/NPM_TOKEN > /npm.len"
                ' && echo "$MODE" > /mode\nCOPY index.html /srv/index.html\n'
            ).encode(),
            "services/web/index.html": b"<h1>hello</h1>\n",
            "services/out": b"symlink:/etc",
        },
    )
    with serve_git(root, token=GIT_TOKEN) as server:
        yield server, sha


def _document(server: GitServer, sha: str, registry: LocalRegistry) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "apiVersion": "qengine.dev/v1",
        "kind": "EnvironmentJob",
        "id": f"build-{now.timestamp()}",
        "organization": {"id": "org-1"},
        "actor": {"id": "actor-1"},
        "action": "deploy",
        "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": {"kind": "test", "steps": "noop"},
        "build": {"kind": "buildah"},
        "registry": {
            "kind": "oci",
            "url": registry.url,
            "username": USER,
            "password": {"secret": "registry_password"},
            "repository_prefix": "apps",
            "ca_certificate": registry.ca_pem,
        },
        "environment": {
            "id": "e1",
            "name": "e1",
            "services": [
                {
                    "kind": "application",
                    "name": "web",
                    "git": {
                        "url": server.url_of("web.git"),
                        "commit": sha,
                        "token": {"secret": "git_token"},
                        "root_path": "services/web",
                    },
                    "dockerfile_path": "docker/Dockerfile",
                    "build_args": {"NPM_TOKEN": {"secret": "npm_token"}, "MODE": "prod"},
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def _engine() -> Engine:
    plugins = load_plugins(
        autoload=False,
        plugins=[
            ("test", qengine.testing.plugin),
            ("oci", qengine_oci.plugin),
            ("buildah", qengine_buildah.plugin),
        ],
    )
    return Engine(plugins, store=MemoryStateStore())


def _run(engine: Engine, document: dict[str, Any]) -> tuple[Any, list[Event]]:
    events: list[Event] = []
    result = engine.run(
        document,
        on_event=events.append,
        sandbox_secrets={
            "git_token": GIT_TOKEN,
            "registry_password": PASSWORD,
            "npm_token": BUILD_SECRET,
        },
    )
    return result, events


def test_builds_once_then_finds_the_image(
    git: tuple[GitServer, str], secure_registry: LocalRegistry, tmp_path: Path
) -> None:
    server, sha = git
    work = tmp_path / "work"
    work.mkdir()
    plugins = load_plugins(
        autoload=False,
        plugins=[
            ("test", qengine.testing.plugin),
            ("oci", qengine_oci.plugin),
            ("buildah", qengine_buildah.plugin),
        ],
    )
    engine = Engine(
        plugins, store=MemoryStateStore(), settings={BUILD_SETTINGS: BuildSettings(temp_base=work)}
    )
    result, events = _run(engine, _document(server, sha, secure_registry))
    assert result.status.value == "succeeded", [e.to_json_object() for e in events][-5:]
    outputs = result.outputs["build/web"]
    assert outputs["built"] == "true"
    image = outputs["image"]
    assert image.startswith(f"{secure_registry.host}/apps/web:qe-{sha[:12]}-")
    tag = image.rsplit(":", 1)[1]
    blobs = image_blobs(secure_registry, "apps/web", tag)
    files = layer_files(blobs)
    assert files["npm.len"].strip() == str(len(BUILD_SECRET)).encode()
    assert files["mode"] == b"prod\n"
    assert files["srv/index.html"] == b"<h1>hello</h1>\n"

    fetches_before = len(server.paths)
    again, more_events = _run(engine, _document(server, sha, secure_registry))
    assert again.status.value == "succeeded"
    assert again.outputs["build/web"] == {**outputs, "built": "false"}
    assert len(server.paths) == fetches_before  # no git traffic when the image exists

    secrets = (GIT_TOKEN, PASSWORD, BUILD_SECRET)
    text = json.dumps([event.to_json_object() for event in events + more_events])
    for secret in secrets:
        assert secret not in text
        for name, body in blobs.items():
            assert secret.encode() not in body, name
        assert not any(secret in path for path in server.paths)
    assert list(work.iterdir()) == []
    for directory, _dirs, names in os.walk(tmp_path):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink() and "htpasswd" not in name:
                data = path.read_bytes()
                for secret in secrets:
                    assert secret.encode() not in data, path


def test_a_dockerfile_path_with_dots_is_refused_before_anything_runs(
    git: tuple[GitServer, str], secure_registry: LocalRegistry
) -> None:
    server, sha = git
    document = _document(server, sha, secure_registry)
    document["environment"]["services"][0]["dockerfile_path"] = "../../etc/passwd"
    with pytest.raises(InvalidInputError) as info:
        _run(_engine(), document)
    assert "'..'" in str(info.value.issues)  # type: ignore[attr-defined]
    assert server.paths == []


@pytest.mark.parametrize(
    ("change", "message", "kind"),
    [
        ({"root_path": "services/out"}, "leads outside the repository", "InvalidInputError"),
        ({"commit": "0123456789abcdef0123456789abcdef01234567"}, "no such commit", "BuildError"),
        ({"token": {"secret": "npm_token"}}, "refused the credentials", "AuthError"),
    ],
)
def test_bad_source_fails_the_step_and_tags_nothing(
    git: tuple[GitServer, str],
    secure_registry: LocalRegistry,
    change: dict[str, object],
    message: str,
    kind: str,
) -> None:
    server, sha = git
    document = _document(server, sha, secure_registry)
    document["environment"]["services"][0]["name"] = "bad"
    document["environment"]["services"][0]["git"].update(change)
    result, events = _run(_engine(), document)
    assert result.status.value == "failed"
    outcome = next(step for step in result.steps if step.step_id == "build/bad")
    assert outcome.error is not None
    assert message in outcome.error.message
    assert outcome.error.kind == kind
    assert outcome.error.hint
    text = json.dumps([event.to_json_object() for event in events])
    assert BUILD_SECRET not in text
    tags = client_for(secure_registry).request(
        "GET", "/v2/apps/bad/tags/list", scope="repository:apps/bad:pull"
    )
    assert tags.status == 404  # the repository was never pushed to


def test_a_registry_refusing_the_password_is_explained(
    git: tuple[GitServer, str], secure_registry: LocalRegistry
) -> None:
    server, sha = git
    events: list[Event] = []
    result = _engine().run(
        _document(server, sha, secure_registry),
        on_event=events.append,
        sandbox_secrets={"git_token": GIT_TOKEN, "registry_password": "nope", "npm_token": "x"},
    )
    assert result.status.value == "failed"
    outcome = next(step for step in result.steps if step.step_id == "build/web")
    assert outcome.error is not None
    assert outcome.error.kind == "AuthError"
    assert "password" in outcome.error.hint


def test_an_upper_case_repository_is_refused_before_anything_runs(
    git: tuple[GitServer, str], secure_registry: LocalRegistry
) -> None:
    server, sha = git
    document = _document(server, sha, secure_registry)
    document["registry"]["repository_prefix"] = "Apps"
    with pytest.raises(InvalidInputError) as info:
        _run(_engine(), document)
    assert "lower case" in str(info.value.issues)  # type: ignore[attr-defined]
    assert server.paths == []
