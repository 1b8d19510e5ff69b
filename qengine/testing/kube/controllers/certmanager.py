"""cert-manager, as far as the objects it writes: once its CRDs are served (the add-on stack
installed it), an Ingress annotated ``cert-manager.io/cluster-issuer`` with a ``tls`` entry
gets a ``Certificate`` (as cert-manager's ingress-shim makes it), and a Certificate whose
ClusterIssuer is Ready is issued: a ``kubernetes.io/tls`` Secret holding a self-signed
certificate for its DNS names, and the ``Ready`` condition. No ACME exchange happens; the
certificate is not one a browser would trust. A Certificate whose ClusterIssuer is missing, or
not Ready, stays not Ready, with cert-manager's message. ClusterIssuers are set up as
cert-manager sets them up (:mod:`qengine.testing.kube.controllers.certissuers`).

Its gateway-shim too, when cert-manager runs with Gateway API support (a cert-manager
Deployment whose container has the ``--enable-gateway-api`` argument, which the test chart
renders from the real chart's value ``config.enableGatewayAPI``) and the Gateway API CRDs are
served: a Gateway annotated ``cert-manager.io/cluster-issuer`` gets one Certificate per Secret
its listeners' ``certificateRefs`` name (listeners with a ``hostname`` and TLS mode
``Terminate``), named like the Secret, with the host names of those listeners. A Certificate
whose host names no longer match is updated and issued again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from qengine.testing.kube.controllers.certissuers import (
    controller_deployments,
    is_ready,
    reconcile_issuers,
)
from qengine.testing.kube.controllers.common import CONTROLLER, owner_ref, rtype, with_status
from qengine.testing.kube.controllers.gateway import GROUP as GATEWAY_GROUP
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]
GROUP = "cert-manager.io"
GATEWAY_FLAG = "--enable-gateway-api"
ISSUER_ANNOTATION = "cert-manager.io/cluster-issuer"


def reconcile(api: ObjectApi, work: Work) -> None:
    """One pass: Certificates for annotated Ingresses and Gateways, then issue those not
    Ready."""
    certificates = api.store.types.preferred(GROUP, "certificates")
    issuers = api.store.types.preferred(GROUP, "clusterissuers")
    if certificates is None or issuers is None:
        return  # cert-manager is not installed
    del work  # few objects: every pass looks at all of them
    reconcile_issuers(api, issuers)
    ingresses = rtype(api, "networking.k8s.io", "ingresses")
    for ingress in list(api.store.iter(ingresses.key)):
        issuer = (ingress["metadata"].get("annotations") or {}).get(ISSUER_ANNOTATION)
        if not issuer or ingress["metadata"].get("deletionTimestamp"):
            continue
        for tls in (ingress.get("spec") or {}).get("tls") or []:
            if tls.get("secretName"):
                _ensure_certificate(api, certificates, ingress, issuer, tls)
    gateways = api.store.types.preferred(GATEWAY_GROUP, "gateways")
    if gateways is not None and _gateway_api_enabled(api):
        for gateway in list(api.store.iter(gateways.key)):
            issuer = (gateway["metadata"].get("annotations") or {}).get(ISSUER_ANNOTATION)
            if not issuer or gateway["metadata"].get("deletionTimestamp"):
                continue
            for secret, hosts in _gateway_secrets(gateway).items():
                _ensure_certificate(
                    api, certificates, gateway, issuer, {"secretName": secret, "hosts": hosts}
                )
    for certificate in list(api.store.iter(certificates.key)):
        if not _ready(certificate):
            _issue(api, certificates, issuers, certificate)


def _gateway_api_enabled(api: ObjectApi) -> bool:
    """Whether a cert-manager controller runs with Gateway API support."""
    for deployment in controller_deployments(api):
        spec = deployment.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers") or []:
            if GATEWAY_FLAG in (container.get("args") or []):
                return True
    return False


def _gateway_secrets(gateway: JSON) -> dict[str, list[str]]:
    """The Secrets the listeners of ``gateway`` name, with their host names, as the
    gateway-shim reads them: listeners with a host name, TLS mode ``Terminate``, and a
    reference to a Secret of the Gateway's namespace."""
    namespace = gateway["metadata"]["namespace"]
    found: dict[str, list[str]] = {}
    for listener in gateway.get("spec", {}).get("listeners") or []:
        tls = listener.get("tls") or {}
        host = listener.get("hostname")
        if not host or not tls or tls.get("mode", "Terminate") != "Terminate":
            continue
        for ref in tls.get("certificateRefs") or []:
            if ref.get("kind", "Secret") != "Secret" or ref.get("group", "") not in ("", "core"):
                continue
            if ref.get("namespace", namespace) != namespace or not ref.get("name"):
                continue
            hosts = found.setdefault(ref["name"], [])
            if host not in hosts:
                hosts.append(host)
    return found


def _ready(certificate: JSON) -> bool:
    conditions = (certificate.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _ensure_certificate(api: ObjectApi, kind: Any, owner: JSON, issuer: str, tls: JSON) -> None:
    namespace = owner["metadata"]["namespace"]
    name = tls["secretName"]
    existing = api.store.find(kind.key, namespace, name)
    if existing is not None:
        hosts = list(tls.get("hosts") or [])
        if (existing.get("spec") or {}).get("dnsNames") != hosts:
            changed = dict(existing, spec=dict(existing.get("spec") or {}, dnsNames=hosts))
            api.commit_raw(kind, with_status(changed, {}))
        return
    certificate = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Certificate",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [owner_ref(owner)],
        },
        "spec": {
            "secretName": name,
            "dnsNames": list(tls.get("hosts") or []),
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer", "group": GROUP},
            "usages": ["digital signature", "key encipherment"],
        },
    }
    # When cert-manager's webhook cannot answer yet, the next pass tries again.
    with contextlib.suppress(ApiError):
        api.create(kind, namespace, certificate, CONTROLLER)


def _issue(api: ObjectApi, kind: Any, issuers: Any, certificate: JSON) -> None:
    spec = certificate.get("spec") or {}
    issuer = (spec.get("issuerRef") or {}).get("name", "")
    now = api.store.clock.stamp()
    found = api.store.find(issuers.key, "", issuer)
    if found is None or not is_ready(found):
        message = (
            f'Referenced "ClusterIssuer" not found: clusterissuer.cert-manager.io "{issuer}" '
            "not found"
            if found is None
            else "Referenced issuer does not have a Ready status condition"
        )
        condition = {
            "type": "Ready",
            "status": "False",
            "reason": "Pending",
            "message": message,
            "lastTransitionTime": now,
        }
        current = (certificate.get("status") or {}).get("conditions") or [{}]
        if current[0].get("message") != condition["message"]:
            api.commit_raw(kind, with_status(certificate, {"conditions": [condition]}))
        return
    namespace = certificate["metadata"]["namespace"]
    names = list(spec.get("dnsNames") or []) or [certificate["metadata"]["name"]]
    crt, key, not_after = _self_signed(names)
    secrets = rtype(api, "", "secrets")
    secret: JSON = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": spec.get("secretName", certificate["metadata"]["name"]),
            "namespace": namespace,
            "annotations": {
                "cert-manager.io/certificate-name": certificate["metadata"]["name"],
                "cert-manager.io/issuer-name": issuer,
                "cert-manager.io/issuer-kind": "ClusterIssuer",
            },
        },
        "data": {
            "tls.crt": base64.b64encode(crt).decode(),
            "tls.key": base64.b64encode(key).decode(),
        },
    }
    live = api.store.find(secrets.key, namespace, secret["metadata"]["name"])
    if live is None:
        api.create(secrets, namespace, secret, CONTROLLER)
    else:  # issued again (its host names changed): the Secret holds the new certificate
        api.commit_raw(secrets, dict(live, data=secret["data"]))
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Ready",
                "message": "Certificate is up to date and has not expired",
                "lastTransitionTime": now,
                "observedGeneration": certificate["metadata"].get("generation", 1),
            }
        ],
        "notAfter": not_after,
        "revision": 1,
    }
    api.commit_raw(kind, with_status(certificate, status))


def _self_signed(names: list[str]) -> tuple[bytes, bytes, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    start = datetime.datetime.now(datetime.UTC)
    end = start + datetime.timedelta(days=90)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, key_pem, end.strftime("%Y-%m-%dT%H:%M:%SZ")
