"""qengine-oci passes the plugin contract suite, which runs one of its jobs: an application
built by buildah from a local git server's commit and pushed to a local TLS registry with a
password (the secret opened by the registry inside the build step), deployed to the
sandbox cluster; then the same job again finds the image in the registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from oci_support import PASSWORD, USER

from qengine.testing.git_server import GitServer, make_repository, serve_git
from qengine.testing.plugin_contract import PluginContract
from qengine.testing.registry import LocalRegistry


class TestOciPluginContract(PluginContract):
    plugin_name = "oci"
    job_plugins = ("buildah", "kubernetes")
    job_sandbox = True  # the Kubernetes plugin's sandbox cluster is the target
    job_secrets = {"registry_password": PASSWORD}  # noqa: RUF012 -- read only

    @pytest.fixture(autouse=True)
    def _sources(self, secure_registry: LocalRegistry, tmp_path: Path) -> Iterator[None]:
        root = tmp_path / "repos"
        root.mkdir()
        files = {"Dockerfile": b"FROM scratch\nCOPY index.html /index.html\n"}
        self._commit = make_repository(root, "web.git", {**files, "index.html": b"<h1>hi</h1>\n"})
        self._registry = secure_registry
        with serve_git(root) as server:
            self._git: GitServer = server
            yield

    def job_document(self, tmp_path: Path) -> dict[str, object]:
        return {
            "apiVersion": "qengine.dev/v1",
            "kind": "EnvironmentJob",
            "id": "oci-contract",
            "organization": {"id": "org-1"},
            "actor": {"id": "actor-1"},
            "action": "deploy",
            "target": {"kind": "sandbox"},
            "build": {"kind": "buildah"},
            "registry": {
                "kind": "oci",
                "url": self._registry.url,
                "username": USER,
                "password": {"secret": "registry_password"},
                "repository_prefix": "contract",
                "ca_certificate": self._registry.ca_pem,
            },
            "environment": {
                "id": "e1",
                "name": "e1",
                "services": [
                    {
                        "kind": "application",
                        "name": "web",
                        "git": {"url": self._git.url_of("web.git"), "commit": self._commit},
                    }
                ],
            },
        }
