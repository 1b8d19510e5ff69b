"""cert-manager on the simulator, once its CRDs are served: an annotated Ingress gets a
Certificate (ingress-shim), issued as a TLS Secret and Ready once its ClusterIssuer exists and
is Ready; ClusterIssuers are set up (Ready, or why not) as cert-manager sets them up."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

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


# ClusterIssuers, set up as cert-manager v1.19 sets them up (pkg/issuer/acme/setup.go): the
# reasons and messages below are cert-manager's own.


def _cert_manager(sim: KubeSimulator, namespace: str = "qengine-system") -> None:
    """The CRDs, and a cert-manager controller Deployment in ``namespace`` (its cluster
    resource namespace)."""
    sim.create_object(_crd("certificates", "Certificate", "Namespaced"))
    sim.create_object(_crd("clusterissuers", "ClusterIssuer", "Cluster"))
    sim.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    labels = {"app.kubernetes.io/name": "cert-manager"}
    sim.create_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "cert-manager", "namespace": namespace, "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "registry.invalid/cm:1"}]},
                },
            },
        }
    )


def _acme_issuer(name: str, server: str, **acme: Any) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": name},
        "spec": {
            "acme": {
                "server": server,
                "privateKeySecretRef": {"name": f"{name}-account-key"},
                "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
                **acme,
            }
        },
    }


def _ready_condition(sim: KubeSimulator, name: str) -> dict[str, Any]:
    issuer = sim.get_object("clusterissuers.cert-manager.io", "", name) or {}
    conditions = (issuer.get("status") or {}).get("conditions") or []
    found: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return found


STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"


def test_an_acme_cluster_issuer_is_ready_once_its_account_is_registered(
    sim: KubeSimulator,
) -> None:
    _cert_manager(sim)
    sim.create_object(_acme_issuer("letsencrypt-staging", STAGING, email="ops@example.com"))

    condition = _until(lambda: _ready_condition(sim, "letsencrypt-staging"))
    assert condition["status"] == "True"
    assert condition["reason"] == "ACMEAccountRegistered"
    assert condition["message"] == "The ACME account was registered with the ACME server"
    assert condition["observedGeneration"] == 1
    issuer = sim.get_object("clusterissuers.cert-manager.io", "", "letsencrypt-staging")
    assert issuer is not None
    account = issuer["status"]["acme"]
    assert account["uri"].startswith("https://acme-staging-v02.api.letsencrypt.org/acme/acct/")
    assert account["lastRegisteredEmail"] == "ops@example.com"
    # The account key cert-manager generates: RSA, PKCS#1 PEM under tls.key, in the cluster
    # resource namespace; status.acme.lastPrivateKeyHash is the SHA-256 of its PKCS#1 DER.
    secret = sim.get_object("secrets", "qengine-system", "letsencrypt-staging-account-key")
    assert secret is not None
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "cert-manager"}
    pem = base64.b64decode(secret["data"]["tls.key"])
    assert pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode()
    assert account["lastPrivateKeyHash"] == digest

    # Nothing more is written while nothing changes: the next passes find it set up.
    version = issuer["metadata"]["resourceVersion"]
    time.sleep(0.3)
    again = sim.get_object("clusterissuers.cert-manager.io", "", "letsencrypt-staging")
    assert again is not None
    assert again["metadata"]["resourceVersion"] == version


def test_an_issuer_whose_acme_server_cannot_be_reached_is_not_ready_and_issues_nothing(
    sim: KubeSimulator,
) -> None:
    _cert_manager(sim)
    server = "https://acme.internal.example/directory"
    sim.create_object(_acme_issuer("letsencrypt", server))
    sim.create_object(INGRESS)

    condition = _until(lambda: _ready_condition(sim, "letsencrypt"))
    assert condition["status"] == "False"
    assert condition["reason"] == "ErrRegisterACMEAccount"
    assert condition["message"] == (
        f'Failed to register ACME account: Get "{server}": dial tcp: lookup '
        "acme.internal.example: no such host"
    )
    pending = _until(lambda: _ready(sim).startswith("False") and _ready(sim))
    assert pending == "False Referenced issuer does not have a Ready status condition"
    assert sim.get_object("secrets", "default", "public-tls") is None

    # Once the server can be reached (a test's own ACME server, say), the issuer registers
    # and the waiting Certificate is issued.
    sim.acme_directories.add(server)
    assert _until(lambda: _ready_condition(sim, "letsencrypt").get("status") == "True")
    assert _until(lambda: _ready(sim).startswith("True"))


def test_issuers_cert_manager_cannot_set_up_say_why(sim: KubeSimulator) -> None:
    _cert_manager(sim)
    sim.create_object(
        _acme_issuer("no-key", STAGING, disableAccountKeyGeneration=True),
    )
    sim.create_object(
        _acme_issuer(
            "no-eab", STAGING,
            externalAccountBinding={"keyID": "kid-1", "keySecretRef": {"name": "eab", "key": "k"}},
        )
    )  # fmt: skip
    sim.create_object(_acme_issuer("v1", "https://acme-v01.api.letsencrypt.org/directory"))
    sim.create_object(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "internal-ca"},
            "spec": {"ca": {"secretName": "internal-ca-pair"}},
        }
    )

    def said(name: str) -> tuple[str, str, str]:
        found = _until(lambda: _ready_condition(sim, name))
        return found["status"], found["reason"], found["message"]

    assert said("no-key") == (
        "False",
        "ErrVerifyACMEAccount",
        "Failed to verify ACME account: the ACME issuer config has "
        "'disableAccountKeyGeneration' set to true, but the secret was not found: "
        'secret "no-key-account-key" not found',
    )
    assert said("no-eab") == (
        "False",
        "ErrRegisterACMEAccount",
        'Failed to register ACME account: secrets "eab" not found',
    )
    assert said("v1") == (
        "False",
        "InvalidConfig",
        "Your ACME server URL is set to a v1 endpoint "
        "(https://acme-v01.api.letsencrypt.org/directory). You should update the "
        'spec.acme.server field to "https://acme-v02.api.letsencrypt.org/directory"',
    )
    assert said("internal-ca") == (
        "False",
        "ErrGetKeyPair",
        'Error getting keypair for CA issuer: secret "internal-ca-pair" not found',
    )
    # No account key is generated for an issuer told not to generate one.
    assert sim.get_object("secrets", "qengine-system", "no-key-account-key") is None

    # The missing Secret arrives: the issuer is set up on a later pass, with a new transition.
    sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "eab", "namespace": "qengine-system"},
            "data": {"k": base64.b64encode(b"mac-key").decode()},
        }
    )
    assert _until(lambda: _ready_condition(sim, "no-eab").get("status") == "True")


def test_a_self_signed_cluster_issuer_is_ready(sim: KubeSimulator) -> None:
    _cert_manager(sim)
    sim.create_object(
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "selfsigned"},
            "spec": {"selfSigned": {}},
        }
    )
    condition = _until(lambda: _ready_condition(sim, "selfsigned"))
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "True",
        "IsReady",
        "",
    )


def test_an_account_key_that_is_not_rsa_is_refused(sim: KubeSimulator) -> None:
    _cert_manager(sim)
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sim.create_object(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ec-account-key", "namespace": "qengine-system"},
            "data": {"tls.key": base64.b64encode(ec_key).decode()},
        }
    )
    sim.create_object(_acme_issuer("ec", STAGING))
    condition = _until(lambda: _ready_condition(sim, "ec"))
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "ErrVerifyACMEAccount",
        'ACME private key in "ec-account-key" is not of type RSA',
    )
