"""What a render needs besides the spec: how to open secrets, the built images, the hash key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from qengine.spec import Environment, SecretRef, Value

Manifest = dict[str, Any]
"""A Kubernetes object as plain JSON data."""

OpenSecret = Callable[[str], str]
"""Opens a sealed secret by name: the real value (deploy) or a placeholder (plan, export)."""


def default_hash_key(environment: Environment) -> bytes:
    """The key of the secret-hash HMAC when the caller has none: derived from the environment id.

    It is public, so it is only for renders whose secrets are placeholders (plan, export,
    history): a hash under it would let anyone test a guessed value. A deploy keys the real
    values' hash with the environment's random key (``qengine_kubernetes.hashkey``).
    """
    return hashlib.sha256(b"qengine/secret-hash/v1\0" + environment.id.encode()).digest()


@attrs.frozen(kw_only=True)
class Routing:
    """What the cluster serves routers with: ``ingress`` (an Ingress per router) or
    ``gateway`` (an HTTPRoute per router, a Gateway of ``gateway_class`` per environment,
    listening on ``http_port`` and ``https_port``)."""

    mode: str = "ingress"
    gateway_class: str = "traefik"
    http_port: int = 8000
    https_port: int = 8443

    @property
    def gateway(self) -> bool:
        """Whether routers render as Gateway API routes."""
        return self.mode == "gateway"


def routing_of(target: object) -> Routing:
    """The routing a job's target section asks for (``ingress`` for a target without one)."""
    mode = getattr(target, "routing", "ingress")
    gateway = getattr(target, "gateway", None)
    if gateway is None:
        return Routing(mode=mode)
    return Routing(
        mode=mode,
        gateway_class=gateway.class_name,
        http_port=gateway.http_port,
        https_port=gateway.https_port,
    )


@attrs.frozen(kw_only=True)
class RenderContext:
    """The environment being rendered and the inputs that are not in its spec.

    ``images`` maps the name of a service built from git (application, job) to the image
    reference the build step produced. ``hash_key`` keys the HMAC of the secret-hash
    annotation. ``registry_pull`` is the pull-secret payload of the job's registry.
    """

    environment: Environment
    namespace: str
    open_secret: OpenSecret = attrs.field(repr=False)
    images: Mapping[str, str] = attrs.field(factory=dict)
    hash_key: bytes = attrs.field(repr=False, default=b"")
    # The ``.dockerconfigjson`` of the job's registry, for applications' pull Secret: the real
    # payload inside a deploy step, a placeholder payload in a plan or export; None: no Secret.
    registry_pull: str | None = attrs.field(repr=False, default=None)
    routing: Routing = attrs.field(factory=Routing)

    def value(self, value: Value) -> str:
        """A plain value as is; a secret reference opened."""
        return self.open_secret(value.secret) if isinstance(value, SecretRef) else value

    def built_image(self, service: str) -> str:
        """The image built for ``service``; a readable placeholder when none was supplied."""
        return self.images.get(service, f"built-image-of-{service}")

    def metadata(self, name: str, labels: Mapping[str, str]) -> Manifest:
        """Object metadata in the environment's namespace."""
        return {"name": name, "namespace": self.namespace, "labels": dict(labels)}
