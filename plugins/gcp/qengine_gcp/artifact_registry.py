"""Artifact Registry as a :class:`~qengine.plugin.ContainerRegistry` (``artifact-registry``).

One Docker repository per section (``repository``), created on demand (format ``DOCKER``,
immutable tags when asked, labelled ``managed-by: qengine``; the creation is a long-running
operation, waited for through the plugin's poll policy); an existing one whose tag
immutability differs is corrected. Each service's images are a package of that repository:
``<location>-docker.pkg.dev/<project>/<repository>/<service>``.

Credentials are the section's short-lived access token as Docker credentials (user
``oauth2accesstoken``), never a key file: valid for the token's life (an hour at most), each
call giving a current one. Digests, existence and deletion go through the Artifact Registry
API (``packages.tags``, ``packages.versions``), not the registry's data plane.

Requests go to the REST API (v1) through google-auth's ``AuthorizedSession``. Building the
registry sends no request and opens no secret.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

from qengine.plugin import (
    ContainerRegistry,
    InfrastructureError,
    PullSecret,
    RegistryCredentials,
    TransientError,
)
from qengine_gcp.credentials import GcpAccess, translate
from qengine_gcp.settings import settings_of
from qengine_gcp.spec import ArtifactRegistry

if TYPE_CHECKING:
    from qengine.plugin import JobServices

ENDPOINT = "https://artifactregistry.googleapis.com"
USERNAME = "oauth2accesstoken"


class OperationPending(TransientError):
    """An Artifact Registry operation is not done yet (retried by the poll policy)."""


class ArtifactRegistryContainerRegistry(ContainerRegistry):
    """Images of one Artifact Registry Docker repository. Repository arguments
    (``digest_of``, ``image_exists``, ``delete_image``) are paths as :meth:`repository_of`
    gives them; ``ensure_repository`` takes a service's name."""

    def __init__(self, section: ArtifactRegistry, services: JobServices) -> None:
        self.spec = section
        self._access = GcpAccess(
            identity=section, open_secret=services.secrets.open, settings=settings_of(services)
        )
        self._lock = threading.Lock()
        self._session: Any = None
        self._ready = False

    @property
    def host(self) -> str:
        """``<location>-docker.pkg.dev``, or the settings' local Docker endpoint."""
        local = self._access.settings.artifact_registry_docker_host
        return local or f"{self.spec.location}-docker.pkg.dev"

    @property
    def tls_verify(self) -> bool:
        """False only for the settings' local Docker endpoint (plain HTTP: a sandbox's)."""
        return self._access.settings.artifact_registry_docker_host is None

    def repository_of(self, name: str) -> str:
        """``<project>/<repository>/<name>``."""
        return f"{self.spec.project}/{self.spec.repository}/{name}"

    def ensure_repository(self, name: str) -> str:
        """Create or correct the section's repository (once per registry); return
        ``host/project/repository/name``."""
        with self._lock:
            if not self._ready:
                self._ensure()
                self._ready = True
        return f"{self.host}/{self.repository_of(name)}"

    def credentials(self) -> RegistryCredentials:
        """The section's current access token as Docker credentials for the host."""
        token = self._access.token().reveal()
        return RegistryCredentials(server=self.host, username=USERNAME, password=token)

    def digest_of(self, repository: str, reference: str) -> str | None:
        """The digest of ``repository:reference`` (a tag or a ``sha256:`` digest), from the
        package's tag or version; None when absent."""
        package = self._package(repository)
        if reference.startswith("sha256:"):
            found = self._get(f"{package}/versions/{reference}")
            return reference if found is not None else None
        tag = self._get(f"{package}/tags/{urllib.parse.quote(reference, safe='')}")
        if tag is None:
            return None
        return str(tag.get("version", "")).rsplit("/", 1)[-1] or None

    def delete_image(self, repository: str, tag: str) -> None:
        """Delete the tag ``repository:tag``; a missing one is a no-op."""
        path = f"{self._package(repository)}/tags/{urllib.parse.quote(tag, safe='')}"
        self._request("DELETE", path, f"deleting {repository}:{tag}", missing_ok=True)

    def pull_secret_payload(self) -> bytes:
        """A ``.dockerconfigjson`` with the current token (Kubernetes pull secret)."""
        return self.pull_secret().payload

    def pull_secret(self) -> PullSecret:
        """The pull payload with the current token and the token's expiry (an hour after
        issue at most; None when the token source gives none, as a sandbox's may)."""
        token, expires_at = self._access.token_and_expiry()
        pair = f"{USERNAME}:{token.reveal()}".encode()
        auth = base64.b64encode(pair).decode()
        payload = json.dumps({"auths": {self.host: {"auth": auth}}}).encode()
        return PullSecret(payload=payload, expires_at=expires_at)

    def _repository_path(self) -> str:
        spec = self.spec
        return f"projects/{spec.project}/locations/{spec.location}/repositories/{spec.repository}"

    def _package(self, repository: str) -> str:
        prefix = f"{self.spec.project}/{self.spec.repository}/"
        if not repository.startswith(prefix):
            raise InfrastructureError(f"{repository} is not in this registry's repository")
        package = urllib.parse.quote(repository[len(prefix) :], safe="")
        return f"{self._repository_path()}/packages/{package}"

    def _ensure(self) -> None:
        wanted = {"immutableTags": self.spec.immutable_tags}
        found = self._get(self._repository_path())
        if found is None:
            parent = self._repository_path().rsplit("/repositories/", 1)[0]
            operation = self._request(
                "POST",
                f"{parent}/repositories",
                f"creating the repository {self.spec.repository}",
                params={"repositoryId": self.spec.repository},
                json={
                    "format": "DOCKER",
                    "description": "qengine: images built for deployment",
                    "labels": {"managed-by": "qengine"},
                    "dockerConfig": wanted,
                },
            )
            self._wait(operation or {})
            return
        if found.get("format") != "DOCKER":
            raise InfrastructureError(
                f"the repository {self.spec.repository} holds {found.get('format')}, not DOCKER",
                hint="Name another repository in registry.repository.",
            )
        if (
            dict(found.get("dockerConfig") or {}).get("immutableTags", False)
            != wanted["immutableTags"]
        ):
            self._request(
                "PATCH",
                self._repository_path(),
                f"correcting the repository {self.spec.repository}",
                params={"updateMask": "dockerConfig.immutableTags"},
                json={"dockerConfig": wanted},
            )

    def _wait(self, operation: dict[str, Any]) -> None:
        state = [operation]

        def done() -> None:
            if not state[0].get("done"):
                found = self._get(str(operation.get("name", "")))
                state[0] = found or {}
            if not state[0].get("done"):
                raise OperationPending(
                    f"creating the repository {self.spec.repository} is still going on",
                    retry_after=self._access.settings.poll_interval,
                )

        self._access.settings.poll.call(done)
        error = state[0].get("error")
        if error:
            raise InfrastructureError(
                f"Artifact Registry failed to create {self.spec.repository}: "
                f"{error.get('message', error)}"
            )

    def _get(self, path: str) -> dict[str, Any] | None:
        return self._request("GET", path, f"reading {path}", missing_ok=True)

    def _request(
        self, method: str, path: str, doing: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> dict[str, Any] | None:
        if self._session is None:
            from google.auth.transport.requests import AuthorizedSession

            self._session = AuthorizedSession(self._access.credentials())  # type: ignore[no-untyped-call]
        base = (self._access.settings.artifact_registry_endpoint or ENDPOINT).rstrip("/")
        try:
            reply = self._session.request(method, f"{base}/v1/{path}", timeout=30, **kwargs)
        except Exception as exc:
            raise (translate(exc, doing) or InfrastructureError(f"{doing}: {exc}")) from exc
        if reply.status_code == 404 and missing_ok:
            return None
        if reply.status_code >= 400:
            from google.api_core import exceptions

            error = exceptions.from_http_response(reply)  # type: ignore[no-untyped-call]
            raise translate(error, doing) or InfrastructureError(f"{doing}: {error}") from error
        answer: dict[str, Any] = reply.json() if reply.content else {}
        return answer
