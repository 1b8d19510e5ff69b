"""The Gateway API on the simulator, played as Traefik's controller and cert-manager's
gateway-shim would: statuses of a served Gateway and route, and, strictly, what a real cluster
shows when something is missing (a parent Gateway, a certificate Secret, a GatewayClass).

The negative cases run the controllers' passes in the test's own thread (a simulator without
its controller thread), so "never" is checked after the passes have run, not after a wait.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509

from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.controllers import certmanager, gateway
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.gatewayapi import install_gateway_api

from .test_controllers import eventually

GROUP = "gateway.networking.k8s.io"


def _gateway(listeners: list[dict[str, Any]], *, issuer: str | None = "letsencrypt") -> Any:
    metadata: dict[str, Any] = {"name": "edge", "namespace": "default"}
    if issuer:
        metadata["annotations"] = {"cert-manager.io/cluster-issuer": issuer}
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": metadata,
        "spec": {"gatewayClassName": "traefik", "listeners": listeners},
    }


HTTP = {"name": "http", "protocol": "HTTP", "port": 8000}
HTTPS = {
    "name": "https-shop",
    "protocol": "HTTPS",
    "port": 8443,
    "hostname": "shop.example.com",
    "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "shop-tls"}]},
}


def _route(parent: str, *, hosts: tuple[str, ...] = ("shop.example.com",)) -> Any:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "shop", "namespace": "default"},
        "spec": {
            "parentRefs": [{"name": parent}],
            "hostnames": list(hosts),
            "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
        },
    }


WEB = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"ports": [{"port": 80}]},
}


def _condition(obj: Any, kind: str) -> dict[str, Any]:
    """A condition of an object's status, or of a listener's or a parent's own list."""
    obj = obj or {}
    conditions = (
        obj["conditions"] if "conditions" in obj else obj.get("status", {}).get("conditions")
    )
    for condition in conditions or []:
        if condition["type"] == kind:
            found: dict[str, Any] = condition
            return found
    return {}


def _passes(sim: KubeSimulator, count: int = 3) -> None:
    """Run the Gateway controller and cert-manager ``count`` times, as the controller thread
    would after each change."""
    for _ in range(count):
        with sim.store.lock:
            certmanager.reconcile(sim.api, Work(sim.store, None))
            gateway.reconcile(sim.api, Work(sim.store, None))


def test_a_gateway_and_its_route_are_served_with_a_certificate_from_the_gateway_shim(
    sim: KubeSimulator,
) -> None:
    install_gateway_api(sim)
    sim.create_object(WEB)
    sim.create_object(_gateway([HTTP, HTTPS]))
    sim.create_object(_route("edge"))

    def programmed() -> Any:
        live = sim.get_object("gateways.gateway.networking.k8s.io", "default", "edge")
        return live if _condition(live, "Programmed").get("status") == "True" else None

    live = eventually(programmed)
    assert _condition(live, "Accepted")["status"] == "True"
    assert live["status"]["addresses"] == [{"type": "IPAddress", "value": "192.0.2.10"}]
    listeners = {item["name"]: item for item in live["status"]["listeners"]}
    assert listeners["https-shop"]["attachedRoutes"] == 1
    assert _condition(listeners["https-shop"], "ResolvedRefs")["status"] == "True"
    gateway_class = sim.get_object("gatewayclasses.gateway.networking.k8s.io", "", "traefik")
    assert _condition(gateway_class, "Accepted")["status"] == "True"
    certificate = sim.get_object("certificates.cert-manager.io", "default", "shop-tls")
    assert certificate is not None
    assert certificate["spec"]["dnsNames"] == ["shop.example.com"]
    assert certificate["metadata"]["ownerReferences"][0]["kind"] == "Gateway"
    secret = sim.get_object("secrets", "default", "shop-tls")
    assert secret is not None
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["shop.example.com"]

    def accepted() -> Any:
        route = sim.get_object("httproutes.gateway.networking.k8s.io", "default", "shop")
        parents = (route or {}).get("status", {}).get("parents") or []
        return parents if parents and _condition(parents[0], "Accepted") else None

    (parent,) = eventually(accepted)
    assert parent["parentRef"]["name"] == "edge"
    assert parent["controllerName"] == "traefik.io/gateway-controller"
    assert _condition(parent, "Accepted")["status"] == "True"
    assert _condition(parent, "ResolvedRefs")["status"] == "True"


def test_a_route_whose_parent_is_no_gateway_is_never_accepted() -> None:
    with KubeSimulator(controllers=False) as sim:
        install_gateway_api(sim)
        sim.create_object(WEB)
        sim.create_object(_gateway([HTTP]))
        sim.create_object(_route("nowhere"))
        _passes(sim)
        route = sim.get_object("httproutes.gateway.networking.k8s.io", "default", "shop")
        assert route is not None
        assert not (route.get("status") or {}).get("parents")  # no controller owns that parent
        gateway_live = sim.get_object("gateways.gateway.networking.k8s.io", "default", "edge")
        assert gateway_live is not None
        assert _condition(gateway_live, "Programmed")["status"] == "True"  # the passes ran
        assert gateway_live["status"]["listeners"][0]["attachedRoutes"] == 0


def test_a_listener_whose_certificate_secret_never_appears_is_not_programmed() -> None:
    # No cert-manager here: nothing will ever write the Secret the listener names.
    with KubeSimulator(controllers=False) as sim:
        install_gateway_api(sim, cert_manager=False)
        sim.create_object(_gateway([HTTP, HTTPS], issuer=None))
        _passes(sim)
        live = sim.get_object("gateways.gateway.networking.k8s.io", "default", "edge")
        assert live is not None
        assert _condition(live, "Accepted")["status"] == "True"
        programmed = _condition(live, "Programmed")
        assert programmed["status"] == "False"
        listener = next(i for i in live["status"]["listeners"] if i["name"] == "https-shop")
        resolved = _condition(listener, "ResolvedRefs")
        assert resolved["status"] == "False"
        assert resolved["reason"] == "InvalidCertificateRef"
        assert "shop-tls" in resolved["message"]


def test_the_gateway_shim_needs_cert_manager_run_with_gateway_api_support() -> None:
    with KubeSimulator(controllers=False) as sim:
        install_gateway_api(sim)
        # The controller loses its --enable-gateway-api: the annotated Gateway gets nothing.
        with sim.store.lock:
            deployments = sim.types.preferred("apps", "deployments")
            assert deployments is not None
            live = sim.store.find(deployments.key, "default", "cert-manager")
            assert live is not None
            live["spec"]["template"]["spec"]["containers"][0]["args"] = []
        sim.create_object(_gateway([HTTP, HTTPS]))
        _passes(sim)
        assert sim.get_object("certificates.cert-manager.io", "default", "shop-tls") is None


def test_a_gateway_of_a_missing_class_gets_no_status_and_conflicts_are_reported() -> None:
    with KubeSimulator(controllers=False) as sim:
        install_gateway_api(sim, gateway_class=None, cert_manager=False)
        sim.create_object(_gateway([HTTP], issuer=None))
        _passes(sim)
        live = sim.get_object("gateways.gateway.networking.k8s.io", "default", "edge")
        assert live is not None
        assert not live.get("status", {}).get("listeners")

    with KubeSimulator(controllers=False) as sim:
        install_gateway_api(sim, cert_manager=False)
        clash = dict(HTTP, name="http-again")
        sim.create_object(_gateway([HTTP, clash], issuer=None))
        _passes(sim)
        live = sim.get_object("gateways.gateway.networking.k8s.io", "default", "edge")
        assert live is not None
        assert _condition(live, "Programmed")["status"] == "False"
        conflicted = [
            _condition(item, "Conflicted")["reason"] for item in live["status"]["listeners"]
        ]
        assert conflicted == ["HostnameConflict", "HostnameConflict"]
