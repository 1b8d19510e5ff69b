"""Container registries: repositories, credentials and image lookups."""

from __future__ import annotations

import abc
from typing import ClassVar

import attrs


@attrs.frozen(kw_only=True)
class RegistryCredentials:
    """Short-lived credentials to push or pull; ``password`` never shows in a repr."""

    server: str
    username: str
    password: str = attrs.field(repr=False)


class ContainerRegistry(abc.ABC):
    """A registry images are pushed to and pulled from."""

    kind: ClassVar[str]

    @abc.abstractmethod
    def ensure_repository(self, name: str) -> str:
        """Create ``name`` if missing (idempotent); return its full reference prefix."""

    @abc.abstractmethod
    def credentials(self) -> RegistryCredentials:
        """Credentials valid for at least the rest of the job."""

    @abc.abstractmethod
    def image_exists(self, repository: str, tag: str) -> bool:
        """True if ``repository:tag`` has a manifest (single image or multi-arch index)."""

    @abc.abstractmethod
    def delete_image(self, repository: str, tag: str) -> None:
        """Delete ``repository:tag``; deleting a missing image is a no-op."""
