"""What a cluster needs to serve routers through the Gateway API, made in a simulator.

:func:`install_gateway_api` creates, in process, what the add-on stack installs for it: the
Gateway API CRDs of the standard channel (``gatewayclasses``, ``gateways``, ``httproutes``),
Traefik's GatewayClass (``traefik``, controller ``traefik.io/gateway-controller``, which the
simulator's Gateway controller plays), and, with ``cert_manager``, cert-manager's CRDs, a
ClusterIssuer and a cert-manager Deployment run with Gateway API support (the
``--enable-gateway-api`` argument its gateway-shim needs in the simulator). A test that wants
the real path installs the add-on stack's test charts instead (``qengine_addons``).

The CRDs carry no OpenAPI schema of their fields (``x-kubernetes-preserve-unknown-fields``),
only the status subresource the real ones have: the simulator does not check field names of
Gateway API objects (``kubernetes-validate`` has no schema of them either).
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube.controllers.gateway import CONTROLLER_NAME as TRAEFIK_CONTROLLER
from qengine.testing.kube.controllers.gateway import GROUP as GATEWAY_GROUP
from qengine.testing.kube.simulator import KubeSimulator

JSON = dict[str, Any]
GATEWAY_API_VERSION = "v1.4.0"
"""The Gateway API release whose standard channel the add-on stack's Traefik chart ships."""


def crd(group: str, kind: str, plural: str, version: str, *, cluster: bool = False) -> JSON:
    """A CustomResourceDefinition of ``kind`` with a status subresource and no field schema."""
    metadata: JSON = {"name": f"{plural}.{group}"}
    if group == GATEWAY_GROUP:
        metadata["annotations"] = {
            "gateway.networking.k8s.io/bundle-version": GATEWAY_API_VERSION,
            "gateway.networking.k8s.io/channel": "standard",
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": group,
            "scope": "Cluster" if cluster else "Namespaced",
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


GATEWAY_CRDS = (
    crd(GATEWAY_GROUP, "GatewayClass", "gatewayclasses", "v1", cluster=True),
    crd(GATEWAY_GROUP, "Gateway", "gateways", "v1"),
    crd(GATEWAY_GROUP, "HTTPRoute", "httproutes", "v1"),
)
CERT_MANAGER_CRDS = (
    crd("cert-manager.io", "ClusterIssuer", "clusterissuers", "v1", cluster=True),
    crd("cert-manager.io", "Certificate", "certificates", "v1"),
)


def install_gateway_api(
    sim: KubeSimulator,
    *,
    gateway_class: str | None = "traefik",
    cert_manager: bool = True,
    issuer: str = "letsencrypt",
) -> None:
    """Make ``sim`` a cluster that serves the Gateway API: the CRDs, the GatewayClass
    ``gateway_class`` (None: no class) and, with ``cert_manager``, cert-manager with Gateway
    API support and the ClusterIssuer ``issuer``."""
    for definition in (*GATEWAY_CRDS, *(CERT_MANAGER_CRDS if cert_manager else ())):
        sim.create_object(definition)
    if gateway_class is not None:
        sim.create_object(
            {
                "apiVersion": f"{GATEWAY_GROUP}/v1",
                "kind": "GatewayClass",
                "metadata": {"name": gateway_class},
                "spec": {"controllerName": TRAEFIK_CONTROLLER},
            }
        )
    if not cert_manager:
        return
    sim.create_object(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": issuer},
            "spec": {"selfSigned": {}},
        }
    )
    labels = {"app.kubernetes.io/name": "cert-manager"}
    sim.create_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cert-manager", "namespace": "default", "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "controller",
                                "image": "registry.invalid/cert-manager:test",
                                "args": ["--enable-gateway-api"],
                            }
                        ]
                    },
                },
            },
        }
    )
