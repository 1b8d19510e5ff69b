"""Routers: an Ingress of the ``nginx`` class, with cert-manager TLS, source ranges and basic
authentication from a Secret.

The basic-auth secret's value is the htpasswd file ingress-nginx expects (``user:hash`` lines).
"""

from __future__ import annotations

from collections.abc import Mapping

from qengine.spec import ApplicationService, ContainerService, RouterService, Service
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.labels import service_labels
from qengine_kubernetes.render.pod import port_name
from qengine_kubernetes.render.secrets import opaque_secret

INGRESS_CLASS = "nginx"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
SOURCE_RANGE = "nginx.ingress.kubernetes.io/whitelist-source-range"
AUTH_TYPE = "nginx.ingress.kubernetes.io/auth-type"
AUTH_SECRET = "nginx.ingress.kubernetes.io/auth-secret"  # noqa: S105 - an annotation key
AUTH_REALM = "nginx.ingress.kubernetes.io/auth-realm"


def render_router(
    ctx: RenderContext, router: RouterService, services: Mapping[str, Service]
) -> list[Manifest]:
    """The Ingress of ``router`` and its basic-auth Secret; ``services`` by name, for ports."""
    labels = service_labels(ctx.environment, router.name)
    annotations: dict[str, str] = {}
    spec: Manifest = {"ingressClassName": INGRESS_CLASS}
    if router.tls.enabled:
        annotations[CLUSTER_ISSUER] = router.tls.issuer
        spec["tls"] = [{"hosts": list(router.domains), "secretName": names.tls_secret(router.name)}]
    if router.allowed_source_ranges:
        annotations[SOURCE_RANGE] = ",".join(router.allowed_source_ranges)
    objects: list[Manifest] = []
    if router.basic_auth is not None:
        secret = opaque_secret(
            ctx,
            names.basic_auth_secret(router.name),
            labels,
            {"auth": ctx.open_secret(router.basic_auth.secret)},
        )
        objects.append(secret)
        annotations[AUTH_TYPE] = "basic"
        annotations[AUTH_SECRET] = secret["metadata"]["name"]
        annotations[AUTH_REALM] = "Authentication required"
    paths = [_path(route.path, route.service, route.port, services) for route in router.routes]
    spec["rules"] = [{"host": host, "http": {"paths": paths}} for host in router.domains]
    metadata = ctx.metadata(router.name, labels)
    if annotations:
        metadata["annotations"] = annotations
    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }
    return [ingress, *objects]


def _path(path: str, service: str, port: int | None, services: Mapping[str, Service]) -> Manifest:
    target = services.get(service)
    backend_port: Manifest = {"number": port} if port else {"number": 80}
    if isinstance(target, ApplicationService | ContainerService) and target.ports:
        chosen = next((p for p in target.ports if p.port == port), None)
        if chosen is None:
            chosen = next((p for p in target.ports if p.public), target.ports[0])
        backend_port = {"name": port_name(chosen)}
    return {
        "path": path,
        "pathType": "Prefix",
        "backend": {"service": {"name": service, "port": backend_port}},
    }
