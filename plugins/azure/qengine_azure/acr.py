"""Azure Container Registry as a :class:`~qengine.plugin.ContainerRegistry` (``acr``).

Images of service ``name`` are ``<login server>/<repository_prefix>/<name>``; ACR creates a
repository on its first push, so :meth:`AcrContainerRegistry.ensure_repository` only checks
the reference. Credentials are an ACR refresh token, exchanged for the job's Entra token
(:mod:`qengine_azure.acr_auth`): the password of the null user, for the build backend's
push and the cluster's pull secret alike. Digests, existence and deletion go through the
registry's own ``/v2/`` API with an access token of the repository's scope.

Building the registry sends no request and opens no secret.
"""

from __future__ import annotations

import datetime
import threading
import urllib.parse
from typing import TYPE_CHECKING

from qengine.plugin import (
    AuthError,
    ConflictError,
    ContainerRegistry,
    InfrastructureError,
    PullSecret,
    RegistryCredentials,
    TransientError,
)
from qengine.source.auth_file import docker_config
from qengine.source.references import parse_image
from qengine_azure.acr_auth import NULL_USER, ROLE_HINT, AcrTokens, Http, Reply
from qengine_azure.credentials import AzureAccess
from qengine_azure.settings import settings_of
from qengine_azure.spec import AcrRegistry

if TYPE_CHECKING:
    from qengine.plugin import JobServices

_MANIFESTS = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class AcrContainerRegistry(ContainerRegistry):
    """The registry ``section.name``. Repository arguments (``digest_of``, ``image_exists``,
    ``delete_image``) are paths as :meth:`repository_of` gives them; ``ensure_repository``
    takes a service's name."""

    def __init__(self, section: AcrRegistry, services: JobServices) -> None:
        self.spec = section
        settings = settings_of(services)
        self._url = settings.registry_url(section.server)
        self._settings = settings
        self._access = AzureAccess(
            identity=section, open_secret=services.secrets.open, settings=settings
        )
        self._tokens: AcrTokens | None = None
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """The login server (``<name>.azurecr.io``), or the host a host's settings point at."""
        return urllib.parse.urlsplit(self._url).netloc

    @property
    def tls_verify(self) -> bool:
        """False only for a plain-HTTP stand-in (a test's)."""
        return self._url.startswith("https://")

    @property
    def ca_pem(self) -> str | None:
        """The settings' CA when they point the registry at a local stand-in over TLS."""
        ca_file = self._settings.ca_file
        return ca_file.read_text() if ca_file is not None and self.tls_verify else None

    @property
    def tokens(self) -> AcrTokens:
        """The registry's token exchange (made on first use; it sends nothing itself)."""
        with self._lock:
            if self._tokens is None:
                self._tokens = AcrTokens(
                    self._url,
                    tenant_id=self.spec.tenant_id,
                    who=f"client {self.spec.client_id}",
                    entra_token=self._access.arm_token,
                    http=Http(self._settings.ca_file),
                )
            return self._tokens

    def repository_of(self, name: str) -> str:
        """``<repository_prefix>/<name>`` (``<name>`` without a prefix)."""
        prefix = self.spec.repository_prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def ensure_repository(self, name: str) -> str:
        """``host/prefix/name`` after checking the reference (no request: ACR creates a
        repository on its first push)."""
        reference = f"{self.host}/{self.repository_of(name)}"
        parse_image(reference)  # raises InvalidInputError with a hint (e.g. capitals)
        return reference

    def credentials(self) -> RegistryCredentials:
        """The null user and a refresh token with at least 45 minutes left: push and pull."""
        password = self.tokens.refresh_token()
        return RegistryCredentials(server=self.host, username=NULL_USER, password=password)

    def digest_of(self, repository: str, reference: str) -> str | None:
        """The manifest digest of ``repository:reference`` (a tag or digest), None if absent."""
        reply = self._v2("HEAD", repository, reference, "pull")
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise self._refused(reply.status, f"looking up {repository}:{reference}")
        return reply.headers.get("docker-content-digest") or None

    def delete_image(self, repository: str, tag: str) -> None:
        """Delete the manifest ``repository:tag`` points at; a missing one is a no-op."""
        digest = self.digest_of(repository, tag)
        if digest is None:
            return
        reply = self._v2("DELETE", repository, digest, "delete")
        if reply.status == 405:
            raise ConflictError(f"ACR does not allow deleting {repository}:{tag}")
        if reply.status not in (200, 202, 404):
            raise self._refused(reply.status, f"deleting {repository}:{tag}")

    def pull_secret_payload(self) -> bytes:
        """The ``.dockerconfigjson`` of a pull Secret: the refresh token only inside ``auth``.
        It lives about three hours; each deploy writes a current one."""
        return self.pull_secret().payload

    def pull_secret(self) -> PullSecret:
        """The pull payload (the refresh token only inside ``auth``) and the token's expiry,
        from its ``exp`` claim."""
        token, expires = self.tokens.refresh_token_expiring()
        found = RegistryCredentials(server=self.host, username=NULL_USER, password=token)
        when = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        return PullSecret(payload=docker_config([found]), expires_at=when)

    def _v2(self, method: str, repository: str, reference: str, action: str) -> Reply:
        tokens = self.tokens
        bearer = tokens.access_token(f"repository:{repository}:{action}")
        quoted = urllib.parse.quote(reference, safe=":")
        return tokens.http.send(
            method,
            f"{self._url}/v2/{repository}/manifests/{quoted}",
            headers={"Authorization": f"Bearer {bearer}", "Accept": _MANIFESTS},
        )

    def _refused(self, status: int, doing: str) -> Exception:
        message = f"ACR {self.host} answered {status} {doing}"
        if status in (401, 403):
            return AuthError(message, hint=ROLE_HINT)
        if status == 429 or status >= 500:
            return TransientError(message)
        return InfrastructureError(message)
