"""The ``oci`` container registry: image lookups, tags, deletion, pull secrets."""

from __future__ import annotations

import json
import urllib.parse

from qengine._errors import ConflictError, InfrastructureError, InvalidInputError
from qengine.interfaces.registry import ContainerRegistry, RegistryCredentials
from qengine.secrets.value import SecretValue
from qengine.source.auth_file import docker_config
from qengine.source.references import parse_image
from qengine_oci.client import MANIFEST_TYPES, DistributionClient
from qengine_oci.spec import OciRegistry

_ACCEPT = {"Accept": ", ".join(MANIFEST_TYPES)}


class OciContainerRegistry(ContainerRegistry):
    """A Distribution-API registry. Repositories are created by the first push, so
    :meth:`ensure_repository` only checks the name and returns the full prefix."""

    kind = "oci"

    def __init__(self, spec: OciRegistry, password: SecretValue | None = None) -> None:
        if spec.password is not None and password is None:
            raise InvalidInputError(
                "the registry section names a password secret but none was given",
                hint="Open the secret in the step and pass it to OciContainerRegistry.",
            )
        self.spec = spec
        self.host = urllib.parse.urlsplit(spec.url).netloc
        self._password = password
        self.client = DistributionClient(
            spec.url,
            username=spec.username,
            password=password,
            insecure=spec.insecure,
            ca_pem=spec.ca_certificate,
        )

    def repository_of(self, name: str) -> str:
        """The repository path of ``name`` under the configured prefix."""
        prefix = self.spec.repository_prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def ensure_repository(self, name: str) -> str:
        reference = f"{self.host}/{self.repository_of(name)}"
        parse_image(reference)  # raises InvalidInputError with a hint (e.g. capitals)
        return reference

    def credentials(self) -> RegistryCredentials:
        password = self._password.reveal() if self._password is not None else ""
        return RegistryCredentials(
            server=self.host, username=self.spec.username or "", password=password
        )

    def image_exists(self, repository: str, tag: str) -> bool:
        return self.digest_of(repository, tag) is not None

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
        """The ``.dockerconfigjson`` value of an imagePullSecret for this registry."""
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
