"""Image references and the pull Secret of a private registry."""

from __future__ import annotations

import json
from collections.abc import Mapping

from qengine.spec import ContainerService, RegistryAuth
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.secrets import opaque_secret

DOCKER_HUB = "https://index.docker.io/v1/"


def image_reference(image: str, tag: str | None, digest: str | None) -> str:
    """``image[:tag][@digest]``: a digest pins the image even when a tag is also given."""
    reference = f"{image}:{tag}" if tag else image
    return f"{reference}@{digest}" if digest else reference


def registry_host(image: str) -> str:
    """The registry an image is pulled from; Docker Hub when the first part is no host name."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def container_image(service: ContainerService) -> str:
    """The reference a container service runs."""
    return image_reference(service.image, service.tag, service.digest)


def pull_secret(
    ctx: RenderContext, service: str, image: str, auth: RegistryAuth, labels: Mapping[str, str]
) -> Manifest:
    """A ``kubernetes.io/dockerconfigjson`` Secret with the registry's user name and password.

    The entry carries ``username`` and ``password`` and no ``auth`` field (the kubelet accepts
    either), so the password appears once, as itself, and an export can template it.
    """
    entry = {"password": ctx.open_secret(auth.password.secret), "username": auth.username}
    # Compact and key-sorted, as Helm's toJson writes it, so an exported chart renders the same.
    config = json.dumps(
        {"auths": {registry_host(image): entry}}, sort_keys=True, separators=(",", ":")
    )
    return opaque_secret(
        ctx,
        names.pull_secret(service),
        labels,
        {".dockerconfigjson": config},
        secret_type="kubernetes.io/dockerconfigjson",  # noqa: S106 - a type name
    )


def registry_pull_secret(
    ctx: RenderContext, service: str, payload: str, labels: Mapping[str, str]
) -> Manifest:
    """The pull Secret of an application: the job registry's ``.dockerconfigjson`` payload."""
    return opaque_secret(
        ctx,
        names.pull_secret(service),
        labels,
        {".dockerconfigjson": payload},
        secret_type="kubernetes.io/dockerconfigjson",  # noqa: S106 - a type name
    )
