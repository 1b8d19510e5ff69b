"""Routers as Gateway API routes (target ``routing: gateway``): rendering, the checks that
refuse what the Gateway API cannot carry, and deploys on the simulator playing Traefik's
Gateway controller and cert-manager's gateway-shim."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from k8s_support import Deploy, Deployed, mutating
from qengine_kubernetes.checks import check_job
from qengine_kubernetes.export import export_job
from qengine_kubernetes.render import RenderedEnvironment, render_environment
from qengine_kubernetes.render.context import routing_of
from qengine_kubernetes.render.names import namespace_name

from qengine import EventType, SpecError
from qengine.runner import JobStatus, StepError
from qengine.spec import EnvironmentJob
from qengine.testing.kube import KubeSimulator
from qengine.testing.kube.gatewayapi import install_gateway_api

Load = Callable[[dict[str, Any]], EnvironmentJob]
Example = Callable[[str], dict[str, Any]]
GATEWAY_ROUTING = {"kind": "sandbox", "readiness_delay": 0, "routing": "gateway"}


def gateway_doc(example: Example) -> dict[str, Any]:
    """The quickstart with Gateway API routing, its router serving two host names."""
    doc = example("quickstart")
    doc["target"] = dict(GATEWAY_ROUTING)
    router = _router(doc)
    router["domains"] = ["shop.example.com", "www.shop.example.com"]
    router["routes"] = [{"path": "/", "service": "web"}, {"path": "/api", "service": "web"}]
    return doc


def _router(doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["environment"]["services"] if s["name"] == "public")
    return found


def _render(job: EnvironmentJob) -> RenderedEnvironment:
    return render_environment(
        job.environment, open_secret=lambda name: "value", routing=routing_of(job.target)
    )


def _only(rendered: RenderedEnvironment, kind: str) -> dict[str, Any]:
    found = [o for o in rendered.objects() if o["kind"] == kind]
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]


def test_k8s_gateway_routing_renders_an_httproute_and_the_environments_gateway(
    load_env_job: Load, example: Example
) -> None:
    rendered = _render(load_env_job(gateway_doc(example)))
    assert not [o for o in rendered.objects() if o["kind"] == "Ingress"]
    route = _only(rendered, "HTTPRoute")
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["name"] == "public"
    assert route["metadata"]["labels"]["qengine.dev/service-id"] == "public"
    spec = route["spec"]
    assert spec["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "qengine-gateway"}
    ]
    assert spec["hostnames"] == ["shop.example.com", "www.shop.example.com"]
    # The quickstart's web service listens on 8080: a backendRef takes the port's number.
    assert spec["rules"] == [
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"name": "web", "port": 8080}],
        },
        {
            "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
            "backendRefs": [{"name": "web", "port": 8080}],
        },
    ]
    gateway = _only(rendered, "Gateway")
    assert gateway in rendered.environment_objects
    assert gateway["metadata"]["name"] == "qengine-gateway"
    assert gateway["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt"}
    assert "qengine.dev/service-id" not in gateway["metadata"]["labels"]
    assert gateway["spec"]["gatewayClassName"] == "traefik"
    listeners = gateway["spec"]["listeners"]
    assert listeners[0] == {
        "name": "http",
        "protocol": "HTTP",
        "port": 8000,
        "allowedRoutes": {"namespaces": {"from": "Same"}},
    }
    assert [(lst["name"], lst["hostname"], lst["port"]) for lst in listeners[1:]] == [
        ("https-shop.example.com", "shop.example.com", 8443),
        ("https-www.shop.example.com", "www.shop.example.com", 8443),
    ]
    for listener in listeners[1:]:
        assert listener["protocol"] == "HTTPS"
        assert listener["tls"] == {
            "mode": "Terminate",
            "certificateRefs": [{"group": "", "kind": "Secret", "name": "public-tls"}],
        }


def test_k8s_gateway_class_and_ports_come_from_the_target_and_ingress_stays_the_default(
    load_env_job: Load, example: Example
) -> None:
    doc = gateway_doc(example)
    doc["target"]["gateway"] = {"class_name": "eg", "http_port": 80, "https_port": 443}
    _router(doc)["tls"] = {"enabled": False}
    gateway = _only(_render(load_env_job(doc)), "Gateway")
    assert gateway["spec"]["gatewayClassName"] == "eg"
    assert [lst["port"] for lst in gateway["spec"]["listeners"]] == [80]  # no TLS: HTTP only
    assert "annotations" not in gateway["metadata"]
    plain = _render(load_env_job(example("quickstart")))
    assert _only(plain, "Ingress")["spec"]["ingressClassName"] == "nginx"
    assert not [o for o in plain.objects() if o["kind"] in ("Gateway", "HTTPRoute")]


def test_k8s_gateway_routing_refuses_what_the_gateway_api_cannot_carry(
    load_env_job: Load, example: Example
) -> None:
    doc = gateway_doc(example)
    router = _router(doc)
    router["allowed_source_ranges"] = ["10.0.0.0/8"]
    router["basic_auth"] = {"secret": "session_key"}
    other = {
        "kind": "router",
        "name": "admin",
        "domains": ["admin.example.com"],
        "routes": [{"path": "/", "service": "web"}],
        "tls": {"issuer": "internal"},
    }
    doc["environment"]["services"].append(other)
    with pytest.raises(SpecError) as refused:
        load_env_job(doc)
    text = str(refused.value)
    assert "services[public].allowed_source_ranges: has no Gateway API equivalent" in text
    assert "services[public].basic_auth: has no Gateway API equivalent" in text
    assert "services[admin].tls.issuer: is 'internal'" in text
    assert "one ClusterIssuer" in text
    doc["target"]["routing"] = "ingress"  # the same options are fine with Ingresses
    assert check_job(load_env_job(doc)) == []


def _status(obj: dict[str, Any] | None, kind: str) -> str:
    for condition in (obj or {}).get("status", {}).get("conditions") or []:
        if condition["type"] == kind:
            return str(condition["status"])
    return ""


def test_k8s_gateway_deploy_is_served_then_a_noop_writes_nothing_then_prune_removes_it(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, load_env_job: Load
) -> None:
    install_gateway_api(k8s_sim)
    doc = gateway_doc(example)
    namespace = namespace_name(load_env_job(doc).environment)
    first = k8s_deploy(doc, job_id="gw-first")
    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    route = k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public")
    assert route is not None
    (parent,) = route["status"]["parents"]
    assert parent["parentRef"]["name"] == "qengine-gateway"
    conditions = {c["type"]: c["status"] for c in parent["conditions"]}
    assert conditions == {"Accepted": "True", "ResolvedRefs": "True"}
    gateway = k8s_sim.get_object("gateways.gateway.networking.k8s.io", namespace, "qengine-gateway")
    assert _status(gateway, "Programmed") == "True"
    certificate = k8s_sim.get_object("certificates.cert-manager.io", namespace, "public-tls")
    assert certificate is not None
    assert certificate["spec"]["dnsNames"] == ["shop.example.com", "www.shop.example.com"]
    assert _status(certificate, "Ready") == "True"
    secret = k8s_sim.get_object("secrets", namespace, "public-tls")
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    assert not k8s_sim.objects("ingresses.networking.k8s.io", namespace)

    k8s_sim.clear_requests()
    again = k8s_deploy(doc, job_id="gw-again")
    assert again.result.status is JobStatus.SUCCEEDED, again.result.error
    assert mutating(k8s_sim) == []

    doc["environment"]["services"] = [
        s for s in doc["environment"]["services"] if s["kind"] != "router"
    ]
    pruned = k8s_deploy(doc, job_id="gw-prune")
    assert pruned.result.status is JobStatus.SUCCEEDED, pruned.result.error
    assert k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public") is None
    assert (
        k8s_sim.get_object("gateways.gateway.networking.k8s.io", namespace, "qengine-gateway")
        is None
    )


def test_k8s_gateway_deploy_without_a_gateway_class_fails_at_once_and_removes_its_route(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, load_env_job: Load
) -> None:
    install_gateway_api(k8s_sim, gateway_class=None)
    doc = gateway_doc(example)
    namespace = namespace_name(load_env_job(doc).environment)
    failed = k8s_deploy(doc, job_id="gw-no-class", rollout_timeout=120.0)
    error = _error_of(failed)
    assert "GatewayClass 'traefik'" in error.message
    assert "does not exist" in error.message
    assert error.hint is not None
    assert "class_name" in error.hint
    # A first deploy that fails deletes what it created: the route goes.
    assert k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public") is None


def test_k8s_gateway_route_whose_certificate_is_never_issued_is_reported_with_a_hint(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example
) -> None:
    install_gateway_api(k8s_sim, issuer="another-issuer")
    doc = gateway_doc(example)
    failed = k8s_deploy(doc, job_id="gw-no-cert", rollout_timeout=1.0)
    error = _error_of(failed)
    assert "certificate public-tls" in error.message
    assert 'ClusterIssuer" not found' in error.message
    assert error.hint is not None
    assert "ClusterIssuer" in error.hint


def test_k8s_gateway_export_writes_the_gateway_and_the_route(
    load_env_job: Load, example: Example, tmp_path: Path
) -> None:
    written = export_job(load_env_job(gateway_doc(example)), tmp_path)
    assert "chart/templates/gateway-qengine-gateway.yaml" in written
    assert "chart/templates/httproute-public.yaml" in written
    assert not [w for w in written if "ingress-" in w]


def test_k8s_gateway_routing_on_a_cluster_without_the_gateway_api_is_refused_before_writing(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, load_env_job: Load
) -> None:
    doc = gateway_doc(example)
    failed = k8s_deploy(doc, job_id="gw-no-crds")
    error = _error_of(failed)
    assert "does not serve the Gateway API" in error.message
    assert error.hint is not None
    assert "$.target.routing" in error.hint
    # Refused before its first write: not even the namespace was made.
    namespace = namespace_name(load_env_job(doc).environment)
    assert k8s_sim.get_object("namespaces", "", namespace) is None


def test_k8s_gateway_route_that_fails_is_rolled_back_to_its_previous_revision(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, load_env_job: Load
) -> None:
    install_gateway_api(k8s_sim)
    doc = gateway_doc(example)
    namespace = namespace_name(load_env_job(doc).environment)
    first = k8s_deploy(doc, job_id="gw-good")
    assert first.result.status is JobStatus.SUCCEEDED, first.result.error
    # A new host name needs the certificate issued again, and its issuer is gone now.
    _delete(k8s_sim, "/apis/cert-manager.io/v1/clusterissuers/letsencrypt")
    _router(doc)["domains"] = ["shop.example.com", "www.shop.example.com", "new.example.com"]
    failed = k8s_deploy(doc, job_id="gw-bad", rollout_timeout=1.0)
    error = _error_of(failed)
    assert "certificate public-tls" in error.message
    route = k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public")
    assert route is not None
    # The previous revision, applied again.
    assert route["spec"]["hostnames"] == ["shop.example.com", "www.shop.example.com"]
    # It cannot settle: the Gateway's new listener (the namespace step's, which a rollback
    # leaves, and says so) still asks for the certificate of the new host.
    warnings = " ".join(failed.messages(EventType.WARNING))
    assert "the rollback to revision 1 did not settle" in warnings
    assert "isolation, quota and Gateway are not undone" in warnings


def _error_of(failed: Deployed) -> StepError:
    """The error of a deploy that failed."""
    assert failed.result.status is JobStatus.FAILED
    error = failed.result.error
    assert error is not None
    return error


def _delete(sim: KubeSimulator, path: str) -> None:
    """DELETE ``path`` on the simulator, as a user's kubectl would."""
    ca = sim.ca_pem
    tls = ssl.create_default_context(cadata=ca.decode() if isinstance(ca, bytes) else str(ca))
    request = urllib.request.Request(
        sim.url + path, method="DELETE", headers={"Authorization": f"Bearer {sim.token}"}
    )
    with urllib.request.urlopen(request, context=tls, timeout=10) as reply:
        assert reply.status == 200


def test_k8s_gateway_pause_leaves_the_route_and_deleting_the_router_removes_it(
    k8s_deploy: Deploy, k8s_sim: KubeSimulator, example: Example, load_env_job: Load
) -> None:
    install_gateway_api(k8s_sim)
    doc = gateway_doc(example)
    namespace = namespace_name(load_env_job(doc).environment)
    assert k8s_deploy(doc, job_id="gw-up").result.status is JobStatus.SUCCEEDED
    paused = k8s_deploy(doc, job_id="gw-pause", action="pause")
    assert paused.result.status is JobStatus.SUCCEEDED, paused.result.error
    assert k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public")
    doc["services"] = ["public"]
    deleted = k8s_deploy(doc, job_id="gw-delete", action="delete")
    assert deleted.result.status is JobStatus.SUCCEEDED, deleted.result.error
    assert k8s_sim.get_object("httproutes.gateway.networking.k8s.io", namespace, "public") is None
    history = k8s_sim.get_object("secrets", namespace, "qengine-history-public")
    assert history is None
