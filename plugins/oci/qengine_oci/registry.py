"""The ``oci`` container registry: image lookups, tags, deletion, pull secrets."""

from __future__ import annotations

import json
import threading
import urllib.parse
from typing import TYPE_CHECKING

from qengine import ConflictError, InfrastructureError, InvalidInputError
from qengine.plugin import ContainerRegistry, RegistryCredentials
from qengine.source.auth_file import docker_config
from qengine.source.references import parse_image
from qengine_oci.client import MANIFEST_TYPES, DistributionClient
from qengine_oci.spec import OciRegistry

if TYPE_CHECKING:
    from qengine.plugin import JobServices, SecretValue

_ACCEPT = {"Accept": ", ".join(MANIFEST_TYPES)}


class OciContainerRegistry(ContainerRegistry):
    """A Distribution-API registry. Repositories are created by the first push, so
    :meth:`ensure_repository` only checks the name and returns the full prefix.

    In a job the engine builds it as ``OciContainerRegistry(section, services)`` (the factory
    the plugin registers): the password secret the section names is opened through
    ``services`` on first use (the first request or :meth:`credentials`, inside a step), never
    here. Outside a job (a tool, a test) give the opened ``password`` instead of ``services``.
    """

    def __init__(
        self,
        section: OciRegistry,
        services: JobServices | None = None,
        *,
        password: SecretValue | None = None,
    ) -> None:
        if section.password is not None and services is None and password is None:
            raise InvalidInputError(
                "the registry section names a password secret but none was given",
                hint="Pass the job's services (the engine does), or the opened password.",
            )
        self.section = section
        self._host = urllib.parse.urlsplit(section.url).netloc
        self._services = services
        self._password = password
        self._client: DistributionClient | None = None
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        """The ``host[:port]`` of the section's URL."""
        return self._host

    @property
    def tls_verify(self) -> bool:
        """False when the section is ``insecure`` (plain HTTP or unverified TLS)."""
        return not self.section.insecure

    @property
    def ca_pem(self) -> str | None:
        """The section's ``ca_certificate``."""
        return self.section.ca_certificate

    @property
    def client(self) -> DistributionClient:
        """The Distribution API client, made (and the password opened) on first use."""
        with self._lock:
            if self._client is None:
                section = self.section
                self._client = DistributionClient(
                    section.url,
                    username=section.username,
                    password=self._opened_password(),
                    insecure=section.insecure,
                    ca_pem=section.ca_certificate,
                )
            return self._client

    def _opened_password(self) -> SecretValue | None:
        reference = self.section.password
        if self._password is None and reference is not None and self._services is not None:
            self._password = self._services.secrets.open(reference.secret)
        return self._password

    def repository_of(self, name: str) -> str:
        """The repository path of ``name`` under the configured prefix."""
        prefix = self.section.repository_prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def ensure_repository(self, name: str) -> str:
        """``host/prefix/name``, after checking it is a valid reference (no request: a
        Distribution registry creates a repository on its first push)."""
        reference = f"{self.host}/{self.repository_of(name)}"
        parse_image(reference)  # raises InvalidInputError with a hint (e.g. capitals)
        return reference

    def credentials(self) -> RegistryCredentials:
        """The section's user and password (empty for an anonymous registry)."""
        with self._lock:
            password = self._opened_password()
        return RegistryCredentials(
            server=self.host,
            username=self.section.username or "",
            password=password.reveal() if password is not None else "",
        )

    def digest_of(self, repository: str, reference: str) -> str | None:
        """The manifest digest of ``repository:reference`` (a tag or digest), None if absent."""
        response = self.client.request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull(repository),
            headers=_ACCEPT,
        )
        if response.status == 404:
            return None
        if response.status != 200:
            raise InfrastructureError(
                f"the registry answered {response.status} for {repository}:{reference}"
            )
        return response.headers.get("docker-content-digest") or None

    def list_tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (following pagination); empty if it does not exist."""
        tags: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n=1000"
        while path:
            response = self.client.request("GET", path, scope=_pull(repository))
            if response.status == 404:
                return tags
            if response.status != 200:
                raise InfrastructureError(f"the registry answered {response.status} listing tags")
            document = json.loads(response.body)
            tags.extend(document.get("tags") or [])
            path = _next_page(response.headers.get("link", ""))
        return tags

    def delete_image(self, repository: str, tag: str) -> None:
        """Delete the manifest ``repository:tag`` points at (by digest)."""
        digest = self.digest_of(repository, tag)
        if digest is None:
            return
        response = self.client.request(
            "DELETE", f"/v2/{repository}/manifests/{digest}", scope=_push(repository)
        )
        if response.status == 405:
            raise ConflictError(
                f"the registry does not allow deleting {repository}:{tag}",
                hint="Enable deletion in the registry (distribution: storage.delete.enabled).",
            )
        if response.status not in (200, 202, 404):
            raise InfrastructureError(f"the registry answered {response.status} to a delete")

    def pull_secret_payload(self) -> bytes:
        """The ``.dockerconfigjson`` value of an imagePullSecret for this registry: the
        password only inside ``auth`` (base64 of ``user:password``), in no other field."""
        return dockerconfigjson(self.credentials())


def dockerconfigjson(credentials: RegistryCredentials) -> bytes:
    """The ``.dockerconfigjson`` payload of a ``kubernetes.io/dockerconfigjson`` Secret."""
    return docker_config([credentials])


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push,delete"


def _next_page(link: str) -> str | None:
    """The path of a ``Link: </v2/...>; rel="next"`` header, if any."""
    if 'rel="next"' not in link:
        return None
    start, end = link.find("<"), link.find(">")
    return link[start + 1 : end] if 0 <= start < end else None
