"""A local stand-in of the Artifact Registry API (REST v1), the calls of the
``artifact-registry`` container registry. No emulator of Artifact Registry exists.

Repositories (get, create as a long-running operation that is done when read once, patch with
an ``updateMask``), and packages' tags and versions (get; tags delete), with Google's error
bodies. :meth:`LocalArtifactRegistry.push` records an image as a push through the registry's
data plane would.
"""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

from qengine_gcp.sandbox_http import JsonStandIn, Reply, TokenIssuer, google_error, json_body


class LocalArtifactRegistry(JsonStandIn):
    """Artifact Registry's API on one local HTTP server; use it as a context manager."""

    def __init__(self, *, token: str | None = None, issuer: TokenIssuer | None = None) -> None:
        super().__init__(token=token, issuer=issuer)
        self.repositories: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, str] = {}  # tag name -> version name
        self.versions: set[str] = set()
        self.operations: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._numbers = itertools.count(1)

    def push(self, repository: str, package: str, tag: str, digest: str) -> None:
        """Record ``package:tag`` as pushed with ``digest`` into ``repository`` (its name)."""
        quoted = urllib.parse.quote(package, safe="")
        version = f"{repository}/packages/{quoted}/versions/{digest}"
        self.versions.add(version)
        self.tags[f"{repository}/packages/{quoted}/tags/{tag}"] = version

    def route(self, method: str, path: str, headers: Any, raw: bytes) -> Reply:
        if not self.accepts(headers.get("Authorization")):
            return google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        body = json_body(raw)
        route, _, query = path.partition("?")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        name = route.removeprefix("/v1/")
        self.calls.append((method, name))
        missing = google_error(404, "NOT_FOUND", "Requested entity was not found.")
        if method == "POST" and name.endswith("/repositories"):
            return self._create(name, params.get("repositoryId", ""), body)
        if name in self.operations and method == "GET":
            operation = self.operations[name]
            answer = dict(operation)
            operation["done"] = True
            return 200, answer
        if name in self.repositories:
            repository = self.repositories[name]
            if method == "PATCH" and params.get("updateMask") == "dockerConfig.immutableTags":
                repository["dockerConfig"] = dict(body.get("dockerConfig") or {})
            return 200, repository
        if "/tags/" in name:
            version = self.tags.get(name)
            if version is None:
                return missing
            if method == "DELETE":
                del self.tags[name]
                return 200, {}
            return 200, {"name": name, "version": version}
        if "/versions/" in name and name in self.versions:
            return 200, {"name": name, "createTime": "2026-12-06T06:00:00Z"}
        return missing

    def _create(self, parent: str, repository_id: str, body: dict[str, Any]) -> Reply:
        name = f"{parent}/{repository_id}"
        if name in self.repositories:
            return google_error(409, "ALREADY_EXISTS", f"the repository already exists: {name}")
        repository = {
            "name": name,
            "format": body.get("format", "FORMAT_UNSPECIFIED"),
            "description": body.get("description", ""),
            "labels": body.get("labels", {}),
            "dockerConfig": body.get("dockerConfig", {}),
            "mode": "STANDARD_REPOSITORY",
            "createTime": "2026-12-06T06:00:00Z",
        }
        self.repositories[name] = repository
        location = parent.rsplit("/repositories", 1)[0]
        operation_name = f"{location}/operations/op-{next(self._numbers)}"
        response = {
            "@type": "type.googleapis.com/google.devtools.artifactregistry.v1.Repository",
            **repository,
        }
        self.operations[operation_name] = {
            "name": operation_name,
            "done": False,
            "response": response,
        }
        return 200, {"name": operation_name, "done": False}
