"""Routers: an Ingress of the ``nginx`` class, with cert-manager TLS, source ranges and basic
authentication from a Secret; or, when the target's ``routing`` is ``gateway``, Gateway API v1
objects: an ``HTTPRoute`` per router and one ``Gateway`` per environment.

The basic-auth secret's value is the htpasswd file ingress-nginx expects (``user:hash`` lines).

The Gateway (``qengine-gateway``, of the target's GatewayClass) has an HTTP listener for
every host and, per host name of a router with TLS, an HTTPS listener terminating TLS with
the router's ``<router>-tls`` Secret. It is annotated ``cert-manager.io/cluster-issuer``, so
cert-manager's gateway-shim makes a Certificate per Secret (named like it, with the host
names of the listeners that refer to it). One annotation serves the whole Gateway, so the
routers of an environment must name one issuer (``checks`` refuses two). Source ranges and
basic authentication have no Gateway API equivalent (Traefik offers them only as its own
Middleware resources behind an ``ExtensionRef`` filter), so ``checks`` refuses them with
``routing: gateway`` rather than leave them out.
"""

from __future__ import annotations

from collections.abc import Mapping

from qengine.spec import ApplicationService, ContainerService, RouterService, Service
from qengine_kubernetes.render import names
from qengine_kubernetes.render.context import Manifest, RenderContext
from qengine_kubernetes.render.labels import environment_labels, service_labels
from qengine_kubernetes.render.pod import port_name
from qengine_kubernetes.render.secrets import opaque_secret

GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_API = f"{GATEWAY_GROUP}/v1"
INGRESS_CLASS = "nginx"
CLUSTER_ISSUER = "cert-manager.io/cluster-issuer"
SOURCE_RANGE = "nginx.ingress.kubernetes.io/whitelist-source-range"
AUTH_TYPE = "nginx.ingress.kubernetes.io/auth-type"
AUTH_SECRET = "nginx.ingress.kubernetes.io/auth-secret"  # noqa: S105 - an annotation key
AUTH_REALM = "nginx.ingress.kubernetes.io/auth-realm"


def render_router(
    ctx: RenderContext, router: RouterService, services: Mapping[str, Service]
) -> list[Manifest]:
    """The Ingress of ``router`` and its basic-auth Secret, or with Gateway API routing its
    HTTPRoute; ``services`` by name, for ports."""
    if ctx.routing.gateway:
        return [render_route(ctx, router, services)]
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


def render_route(
    ctx: RenderContext, router: RouterService, services: Mapping[str, Service]
) -> Manifest:
    """The HTTPRoute of ``router``, attached to the environment's Gateway: its host names and
    one rule per route (a ``PathPrefix`` match to the service's port)."""
    rules = [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": route.path}}],
            "backendRefs": [
                {"name": route.service, "port": _port_number(route.service, route.port, services)}
            ],
        }
        for route in router.routes
    ]
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": ctx.metadata(router.name, service_labels(ctx.environment, router.name)),
        "spec": {
            "parentRefs": [{"group": GATEWAY_GROUP, "kind": "Gateway", "name": names.GATEWAY}],
            "hostnames": list(router.domains),
            "rules": rules,
        },
    }


def render_gateway(ctx: RenderContext) -> list[Manifest]:
    """The environment's Gateway, with Gateway API routing and at least one router; else
    nothing."""
    routers = [s for s in ctx.environment.services if isinstance(s, RouterService)]
    if not ctx.routing.gateway or not routers:
        return []
    same = {"namespaces": {"from": "Same"}}
    listeners: list[Manifest] = [
        {
            "name": "http",
            "protocol": "HTTP",
            "port": ctx.routing.http_port,
            "allowedRoutes": same,
        }
    ]
    issuers = sorted({r.tls.issuer for r in routers if r.tls.enabled})
    for router in sorted(routers, key=lambda r: r.name):
        if not router.tls.enabled:
            continue
        for host in router.domains:
            listeners.append(
                {
                    "name": names.https_listener(host),
                    "hostname": host,
                    "protocol": "HTTPS",
                    "port": ctx.routing.https_port,
                    "tls": {
                        "mode": "Terminate",
                        "certificateRefs": [
                            {"group": "", "kind": "Secret", "name": names.tls_secret(router.name)}
                        ],
                    },
                    "allowedRoutes": same,
                }
            )
    metadata = ctx.metadata(names.GATEWAY, environment_labels(ctx.environment))
    if issuers:
        metadata["annotations"] = {CLUSTER_ISSUER: issuers[0]}
    return [
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": metadata,
            "spec": {"gatewayClassName": ctx.routing.gateway_class, "listeners": listeners},
        }
    ]


def _port_number(service: str, port: int | None, services: Mapping[str, Service]) -> int:
    """The Service port a route goes to, as a number (a ``backendRef`` takes no port name):
    the route's port, else the first public port, else the first; 80 for a target with none."""
    target = services.get(service)
    if isinstance(target, ApplicationService | ContainerService) and target.ports:
        chosen = next((p for p in target.ports if p.port == port), None)
        if chosen is None:
            chosen = next((p for p in target.ports if p.public), target.ports[0])
        return int(chosen.port)
    return port or 80
