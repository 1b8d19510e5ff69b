"""Rendering a whole environment: its namespace objects and each service's objects."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import attrs

from qengine.spec import (
    ApplicationService,
    ContainerService,
    DatabaseMode,
    DatabaseService,
    Environment,
    HelmService,
    JobService,
    RouterService,
    Service,
    TerraformService,
)
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import (
    Manifest,
    OpenSecret,
    RenderContext,
    Routing,
    default_hash_key,
)
from qengine_kubernetes.render.database import render_database
from qengine_kubernetes.render.job import render_job
from qengine_kubernetes.render.namespace import render_namespace
from qengine_kubernetes.render.router import render_gateway, render_router
from qengine_kubernetes.render.workload import render_workload


@attrs.frozen(kw_only=True)
class RenderedService:
    """The objects of one service; ``note`` says why there are none (managed, Helm...)."""

    name: str
    kind: str
    objects: tuple[Manifest, ...]
    note: str = ""


@attrs.frozen(kw_only=True)
class RenderedEnvironment:
    """Everything rendered for an environment, in a stable order."""

    namespace: str
    environment_objects: tuple[Manifest, ...]
    services: tuple[RenderedService, ...]

    def objects(self) -> Iterator[Manifest]:
        """Every object: the environment's first, then each service's."""
        yield from self.environment_objects
        for service in self.services:
            yield from service.objects

    def service(self, name: str) -> RenderedService:
        """The rendering of service ``name``; KeyError if the environment has none."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


def render_environment(
    environment: Environment,
    *,
    open_secret: OpenSecret,
    images: Mapping[str, str] | None = None,
    hash_key: bytes | None = None,
    registry_pull: str | None = None,
    routing: Routing | None = None,
) -> RenderedEnvironment:
    """Render ``environment`` to Kubernetes objects (plain JSON data); pure and deterministic.

    ``open_secret`` gives each referenced secret's value: the real one to deploy, a placeholder
    to plan or export. ``images`` maps services built from git to their built image.
    ``hash_key`` keys the secret-hash annotation (default: derived from the environment id).
    ``registry_pull`` is the ``.dockerconfigjson`` of the job's registry: applications then get
    a pull Secret ``<name>-pull``. ``routing``: what the cluster serves routers with (the
    target's ``routing``; default Ingresses).
    """
    ctx = RenderContext(
        environment=environment,
        namespace=names.namespace_name(environment),
        open_secret=open_secret,
        images=dict(images or {}),
        hash_key=hash_key if hash_key is not None else default_hash_key(environment),
        registry_pull=registry_pull,
        routing=routing or Routing(),
    )
    by_name: dict[str, Service] = {service.name: service for service in environment.services}
    rendered = tuple(_render_service(ctx, s, by_name) for s in environment.services)
    return RenderedEnvironment(
        namespace=ctx.namespace,
        environment_objects=(*render_namespace(ctx), *render_gateway(ctx)),
        services=rendered,
    )


def render_service(
    environment: Environment,
    name: str,
    *,
    open_secret: OpenSecret,
    images: Mapping[str, str] | None = None,
    hash_key: bytes | None = None,
    registry_pull: str | None = None,
    routing: Routing | None = None,
) -> RenderedService:
    """Render only service ``name`` of ``environment`` (opens only that service's secrets)."""
    ctx = RenderContext(
        environment=environment,
        namespace=names.namespace_name(environment),
        open_secret=open_secret,
        images=dict(images or {}),
        hash_key=hash_key if hash_key is not None else default_hash_key(environment),
        registry_pull=registry_pull,
        routing=routing or Routing(),
    )
    by_name: dict[str, Service] = {service.name: service for service in environment.services}
    return _render_service(ctx, by_name[name], by_name)


def _render_service(
    ctx: RenderContext, service: Service, by_name: Mapping[str, Service]
) -> RenderedService:
    note = ""
    objects: list[Manifest] = []
    if isinstance(service, ApplicationService | ContainerService):
        objects = render_workload(ctx, service)
    elif isinstance(service, DatabaseService):
        objects = render_database(ctx, service)
        if service.mode is DatabaseMode.MANAGED:
            note = "managed database: provisioned by the cloud plugin, nothing rendered here"
    elif isinstance(service, JobService):
        objects = render_job(ctx, service)
    elif isinstance(service, RouterService):
        objects = render_router(ctx, service, by_name)
    elif isinstance(service, HelmService):
        note = "Helm release: installed with the helm binary, not rendered to objects"
    elif isinstance(service, TerraformService):
        note = "Terraform service: not supported by the Kubernetes target yet"
    return RenderedService(name=service.name, kind=service.kind, objects=tuple(objects), note=note)


def canonical_json(obj: object) -> str:
    """The byte-stable JSON of rendered data: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
