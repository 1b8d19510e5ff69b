"""qengine-docker passes the plugin contract suite (and loading it imports no docker-py). The
contract runs one of its jobs: an application built on the Podman API service from a local
git server's commit, pushed to a local registry, deployed to the sandbox cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.plugin_contract import PluginContract
from qengine.testing.registry import LocalRegistry


class TestDockerPluginContract(PluginContract):
    plugin_name = "docker"
    sdk_modules = ("docker",)
    job_plugins = ("oci", "kubernetes")
    job_sandbox = True  # the Kubernetes plugin's sandbox cluster is the target

    @pytest.fixture(autouse=True)
    def _sources(self, registry: LocalRegistry, engine_host: str, tmp_path: Path) -> Iterator[None]:
        root = tmp_path / "repos"
        root.mkdir()
        files = {"Dockerfile": b"FROM scratch\nCOPY index.html /index.html\n"}
        self._commit = make_repository(root, "api.git", {**files, "index.html": b"<h1>hi</h1>\n"})
        self._registry, self._engine_host = registry, engine_host
        with serve_git(root) as server:
            self._git: GitServer = server
            yield

    def job_document(self, tmp_path: Path) -> dict[str, object]:
        return {
            "apiVersion": "qengine.dev/v1",
            "kind": "EnvironmentJob",
            "id": "docker-contract",
            "organization": {"id": "org-1"},
            "actor": {"id": "actor-1"},
            "action": "deploy",
            "target": {"kind": "sandbox"},
            "build": {"kind": "docker", "host": self._engine_host},
            "registry": {"kind": "oci", "url": self._registry.url, "insecure": True},
            "environment": {
                "id": "e1",
                "name": "e1",
                "services": [
                    {
                        "kind": "application",
                        "name": "api",
                        "git": {"url": self._git.url_of("api.git"), "commit": self._commit},
                    }
                ],
            },
        }
