"""An environment job with a ``docker`` build section through the Engine: git fetch, build on
the Podman API service, push; the same job again finds the image and builds nothing."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import qengine_docker.plugin
import qengine_oci.plugin
from docker_support import image_blobs
from qengine_docker.spec import DockerSettings

import qengine.testing.plugin
from qengine import Engine, Event, load_plugins
from qengine.runner import MemoryStateStore
from qengine.testing.git_server import make_repository, serve_git
from qengine.testing.registry import LocalRegistry

TOKEN = "docker-job-git-token-2718"
SECRET = "docker-job-build-secret-1618"


def test_docker_job_builds_once(
    engine_host: str, registry: LocalRegistry, base_image: str, tmp_path: Path
) -> None:
    root = tmp_path / "repos"
    root.mkdir()
    sha = make_repository(
        root,
        "api.git",
        {
            "Dockerfile": (
                f"FROM {base_image}\n"
                "RUN --mount=type=secret,id=KEY wc -c < /run/secrets/KEY > /key.len\n"
            ).encode()
        },
    )
    plugins = load_plugins(
        autoload=False,
        plugins=[
            ("test", qengine.testing.plugin),
            ("oci", qengine_oci.plugin),
            ("docker", qengine_docker.plugin),
        ],
    )
    engine = Engine(
        plugins, store=MemoryStateStore(), settings={"docker": DockerSettings(host=engine_host)}
    )
    with serve_git(root, token=TOKEN) as server:
        now = datetime.datetime.now(datetime.UTC)
        document: dict[str, Any] = {
            "apiVersion": "qengine.dev/v1",
            "kind": "EnvironmentJob",
            "id": "docker-job",
            "organization": {"id": "org-1"},
            "actor": {"id": "actor-1"},
            "action": "deploy",
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "target": {"kind": "test", "steps": "noop"},
            "build": {"kind": "docker"},
            "registry": {"kind": "oci", "url": registry.url, "insecure": True},
            "environment": {
                "id": "e1",
                "name": "e1",
                "services": [
                    {
                        "kind": "application",
                        "name": "api",
                        "git": {
                            "url": server.url_of("api.git"),
                            "commit": sha,
                            "token": {"secret": "git_token"},
                        },
                        "build_args": {"KEY": {"secret": "key"}},
                    }
                ],
            },
        }
        events: list[Event] = []
        secrets = {"git_token": TOKEN, "key": SECRET}
        first = engine.run(document, on_event=events.append, sandbox_secrets=secrets)
        assert first.status.value == "succeeded", [e.to_json_object() for e in events][-3:]
        assert first.outputs["build/api"]["built"] == "true"
        document["id"] = "docker-job-again"
        second = engine.run(document, on_event=events.append, sandbox_secrets=secrets)
        assert second.outputs["build/api"] == {**first.outputs["build/api"], "built": "false"}
    tag = first.outputs["build/api"]["image"].rsplit(":", 1)[1]
    blobs = image_blobs(registry.url, "api", tag)
    assert blobs is not None
    text = json.dumps([event.to_json_object() for event in events])
    for secret in (TOKEN, SECRET):
        assert secret not in text
        assert not any(secret.encode() in body for body in blobs.values())
