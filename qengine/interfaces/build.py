"""Build backends turn a source checkout into an image in a registry."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import attrs

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken
    from qengine.interfaces.registry import RegistryCredentials


@attrs.frozen(kw_only=True)
class BuildRequest:
    """One image to build: a checked-out context, a Dockerfile inside it, and where to push."""

    context: Path
    dockerfile: Path
    image: str
    build_args: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    target: str | None = None
    platform: str | None = None
    timeout_seconds: float = 1800.0


@attrs.frozen(kw_only=True)
class BuiltImage:
    """The pushed image's reference and digest."""

    image: str
    digest: str


class BuildBackend(abc.ABC):
    """Builds and pushes images (buildah, a Docker Engine API, ...)."""

    kind: ClassVar[str]

    @abc.abstractmethod
    def build_and_push(
        self, request: BuildRequest, credentials: RegistryCredentials, cancel: CancelToken
    ) -> BuiltImage:
        """Build ``request`` and push it. Build args never reach layers, history or logs.

        On failure or cancellation no partial image is left tagged.
        """
