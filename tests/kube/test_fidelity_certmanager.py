"""cert-manager on the simulator, once its CRDs are served: an annotated Ingress gets a
Certificate (ingress-shim), issued as a TLS Secret and Ready once its ClusterIssuer exists."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509

from qengine.testing.kube import KubeSimulator


def _crd(plural: str, kind: str, scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.cert-manager.io"},
        "spec": {
            "group": "cert-manager.io",
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
            "versions": [
                {
                    "name": "v1",
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


INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "public",
        "namespace": "default",
        "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
    },
    "spec": {
        "tls": [{"hosts": ["shop.example.com"], "secretName": "public-tls"}],
        "rules": [{"host": "shop.example.com"}],
    },
}


def _until(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("the simulated cert-manager did not get there")


def _ready(sim: KubeSimulator) -> str:
    cert = sim.get_object("certificates.cert-manager.io", "default", "public-tls")
    conditions = ((cert or {}).get("status") or {}).get("conditions") or [{}]
    return str(conditions[0].get("status", "")) + " " + str(conditions[0].get("message", ""))


def test_an_annotated_ingress_gets_a_certificate_issued_once_its_issuer_exists(
    sim: KubeSimulator,
) -> None:
    sim.create_object(_crd("certificates", "Certificate", "Namespaced"))
    sim.create_object(_crd("clusterissuers", "ClusterIssuer", "Cluster"))
    sim.create_object(INGRESS)

    pending = _until(lambda: _ready(sim).startswith("False") and _ready(sim))
    assert 'clusterissuer.cert-manager.io "letsencrypt" not found' in pending
    cert = sim.get_object("certificates.cert-manager.io", "default", "public-tls")
    assert cert is not None
    assert cert["spec"]["dnsNames"] == ["shop.example.com"]
    assert cert["metadata"]["ownerReferences"][0]["name"] == "public"

    sim.create_object(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "letsencrypt"},
            "spec": {"selfSigned": {}},
        }
    )

    assert _until(lambda: _ready(sim).startswith("True"))
    secret = sim.get_object("secrets", "default", "public-tls")
    assert secret is not None
    assert secret["type"] == "kubernetes.io/tls"
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["shop.example.com"]


def test_without_cert_manager_an_annotated_ingress_gets_no_certificate(
    sim: KubeSimulator,
) -> None:
    sim.create_object(INGRESS)
    time.sleep(0.5)
    assert sim.get_object("secrets", "default", "public-tls") is None
