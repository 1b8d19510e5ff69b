"""Build backends turn a source checkout into an image in a registry."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken
    from qengine.interfaces.registry import RegistryCredentials
    from qengine.secrets.value import SecretValue


@attrs.frozen(kw_only=True)
class BuildRequest:
    """One image to build: a checked-out context, a Dockerfile inside it, and where to push.

    ``build_args`` are plain (``--build-arg``: they may show in the image's history);
    ``secret_args`` reach the build only as build secrets (``RUN
    --mount=type=secret,id=NAME``), never as layers, history or logs. ``target`` is the
    Dockerfile stage to build, ``platform`` the image's platform (``linux/arm64``), both None
    for the defaults. ``timeout_seconds`` bounds the build and the push together.

    ``cache_from`` / ``cache_to`` are registry repositories (``host/path``) to read and write
    the layer cache, None for no cache. ``tls_verify`` false allows plain HTTP or unverified
    TLS to the registries; ``ca_pem`` is a CA (PEM) their certificates chain to.
    """

    context: Path
    dockerfile: Path
    image: str
    build_args: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    secret_args: Mapping[str, SecretValue] = attrs.field(factory=dict, repr=False)
    target: str | None = None
    platform: str | None = None
    timeout_seconds: float = 1800.0
    cache_from: str | None = None
    cache_to: str | None = None
    tls_verify: bool = True
    ca_pem: str | None = None


@attrs.frozen(kw_only=True)
class BuiltImage:
    """The pushed image's reference and digest."""

    image: str
    digest: str


class BuildBackend(abc.ABC):
    """Builds and pushes images (buildah, a Docker Engine API, ...).

    The factory registered with ``registry.add_build_backend`` builds one per job, from the
    job's ``build`` section and its services; building it must start nothing and open no
    secret. The core's build steps (:mod:`qengine.source.pipeline`) fetch the source, check its
    paths and call :meth:`build_and_push` once per image, from the step that builds it.
    """

    @abc.abstractmethod
    def build_and_push(
        self,
        request: BuildRequest,
        credentials: RegistryCredentials,
        cancel: CancelToken,
        log: Callable[[str], None],
    ) -> BuiltImage:
        """Build ``request`` and push it as ``request.image``.

        Pre: ``request.context`` is a directory and ``request.dockerfile`` a file inside it
        (both resolved: no symlink leads out); ``credentials`` are for the registry of
        ``request.image`` (an empty ``username`` means anonymous).

        ``log`` receives the build's and the push's output, one line per call, in order (it may
        be called from another thread than the caller's, never from two at once), with every
        value of ``request.secret_args`` and the registry password already removed. The build
        step passes its step's log (``ctx.emit_log``), so the lines become ``log`` events.

        Post, on success: ``request.image`` is in the registry with the returned digest. On
        every outcome no image of the build stays tagged in the backend's storage, no
        credential or secret file stays on this machine, and the secret build arguments are
        in no layer, image config, history entry or log line. A backend that cannot export a
        layer cache ignores ``cache_to``; one that cannot build with secrets refuses
        ``secret_args`` with a BuildError before building.

        Raises InvalidInputError (``request.image`` is not a valid reference: before anything
        runs), BuildError (the build or the push failed, or ``request.timeout_seconds``
        passed: the message says "timed out") and CancelledError (``cancel`` fired). After a
        failure or a cancellation ``request.image`` was not pushed.
        """
