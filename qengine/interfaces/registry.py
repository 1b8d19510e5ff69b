"""Container registries: repositories, credentials and image lookups."""

from __future__ import annotations

import abc
import base64
import datetime
import json

import attrs


@attrs.frozen(kw_only=True)
class RegistryCredentials:
    """Short-lived credentials to push or pull; ``password`` never shows in a repr."""

    server: str
    username: str
    password: str = attrs.field(repr=False)


@attrs.frozen(kw_only=True)
class PullSecret:
    """What a cluster pulls a registry's images with: a ``.dockerconfigjson`` and when the
    credential in it stops working.

    ``expires_at`` (timezone-aware) is None for a credential that lasts until someone changes
    it (a password); a short-lived token gives its expiry, so a cluster target can write the
    payload again before it lapses. ``payload`` never shows in a repr.
    """

    payload: bytes = attrs.field(repr=False)
    expires_at: datetime.datetime | None = None


class ContainerRegistry(abc.ABC):
    """A registry images are pushed to and pulled from.

    The factory registered with ``registry.add_registry`` builds one per job, from the job's
    ``registry`` section and its services. Building it must open no secret and make no
    request: the build and deploy steps call its methods when they run.
    """

    @property
    @abc.abstractmethod
    def host(self) -> str:
        """The ``host[:port]`` images of this registry are named with."""

    @property
    def tls_verify(self) -> bool:
        """False when the registry is reached over plain HTTP or unverified TLS."""
        return True

    @property
    def ca_pem(self) -> str | None:
        """A CA (PEM) the registry's certificate chains to, when it is not a public one."""
        return None

    @abc.abstractmethod
    def repository_of(self, name: str) -> str:
        """The repository path (without the host) of the images of service ``name``."""

    @abc.abstractmethod
    def ensure_repository(self, name: str) -> str:
        """Create the repository of ``name`` if missing (idempotent); return
        ``host/repository``."""

    @abc.abstractmethod
    def credentials(self) -> RegistryCredentials:
        """Credentials to push and pull, valid for at least the rest of the job."""

    @abc.abstractmethod
    def digest_of(self, repository: str, reference: str) -> str | None:
        """The digest (``sha256:...``) of ``repository:reference``, or None when absent."""

    def image_exists(self, repository: str, tag: str) -> bool:
        """True if ``repository:tag`` has a manifest (single image or multi-arch index)."""
        return self.digest_of(repository, tag) is not None

    @abc.abstractmethod
    def delete_image(self, repository: str, tag: str) -> None:
        """Delete ``repository:tag``; deleting a missing image is a no-op."""

    def pull_secret_payload(self) -> bytes:
        """The ``.dockerconfigjson`` a cluster pulls this registry's images with.

        Called only inside a step (it may open a secret or ask for a token)."""
        found = self.credentials()
        pair = f"{found.username}:{found.password}".encode()
        entry = {
            "username": found.username,
            "password": found.password,
            "auth": base64.b64encode(pair).decode("ascii"),
        }
        return json.dumps({"auths": {found.server: entry}}, sort_keys=True).encode()

    def pull_secret(self) -> PullSecret:
        """The pull payload and, for a short-lived token, when it expires (inside a step only).

        The default wraps :meth:`pull_secret_payload` with no expiry: a registry whose
        credential is a password needs nothing more. A registry whose pull credential is a
        short-lived token overrides it and gives the token's expiry (what the token itself
        says, or a lower bound), so a cluster target rewrites its pull Secret only when that
        nears; its section says so with
        :attr:`~qengine.spec.RegistrySpec.pull_secret_lifetime`.
        """
        return PullSecret(payload=self.pull_secret_payload())
