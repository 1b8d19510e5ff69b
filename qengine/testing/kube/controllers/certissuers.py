"""cert-manager's issuer set-up, for ClusterIssuers: the ``Ready`` condition cert-manager
(v1.19) writes once it has set an issuer up, or why it could not, with its reasons and messages.

- ``acme``: the account key Secret (``privateKeySecretRef``, key ``tls.key`` unless named) in
  the cluster resource namespace, generated (RSA 2048, PKCS#1) when missing unless
  ``disableAccountKeyGeneration``; the external account binding's key Secret when one is given;
  then the account registration with the ACME server. No request leaves the simulator: the
  servers it "reaches" are those in ``api.acme_directories`` (Let's Encrypt's production and
  staging directories unless a test changes the set); any other is unreachable, as from a
  cluster that cannot resolve its host. Registered: ``Ready`` True, ``ACMEAccountRegistered``,
  and ``status.acme`` with the account's ``uri``, ``lastRegisteredEmail`` and
  ``lastPrivateKeyHash``. A Let's Encrypt v1 directory is refused as cert-manager refuses it.
- ``selfSigned``: ``Ready`` True (``IsReady``).
- ``ca``: ``Ready`` True (``KeyPairVerified``) when its Secret exists, else False
  (``ErrGetKeyPair``); the key pair itself is not checked.

Other issuer types (Vault, Venafi, external issuers) get no status. The cluster resource
namespace is the cert-manager controller's (the namespace of the Deployment labelled
``app.kubernetes.io/name: cert-manager``, as the chart passes ``--cluster-resource-namespace``),
``cert-manager`` when none runs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

import attrs
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qengine.testing.kube.controllers.common import CONTROLLER, rtype, with_status
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.status import ApiError

JSON = dict[str, Any]
#: The ACME directories a simulated cert-manager reaches by default.
ACME_DIRECTORIES = frozenset(
    {
        "https://acme-v02.api.letsencrypt.org/directory",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    }
)
_V1_TO_V2 = {
    "https://acme-v01.api.letsencrypt.org/directory": (
        "https://acme-v02.api.letsencrypt.org/directory"
    ),
    "https://acme-staging.api.letsencrypt.org/directory": (
        "https://acme-staging-v02.api.letsencrypt.org/directory"
    ),
}
DEFAULT_NAMESPACE = "cert-manager"
REGISTERED = "The ACME account was registered with the ACME server"


@attrs.frozen
class Outcome:
    """What a set-up concluded: the ``Ready`` condition's status, reason and message, and the
    ACME status (``status.acme``) when an account was registered."""

    status: str
    reason: str
    message: str
    acme: JSON | None = None


def reconcile_issuers(api: ObjectApi, issuers: Any) -> None:
    """Set up every ClusterIssuer whose status is not already what its set-up concludes."""
    namespace = resource_namespace(api)
    for issuer in list(api.store.iter(issuers.key)):
        if issuer["metadata"].get("deletionTimestamp"):
            continue
        outcome = setup(api, namespace, issuer)
        if outcome is not None:
            _record(api, issuers, issuer, outcome)


def controller_deployments(api: ObjectApi) -> Iterator[JSON]:
    """The cert-manager controller's Deployments (labelled ``app.kubernetes.io/name:
    cert-manager``)."""
    deployments = rtype(api, "apps", "deployments")
    for deployment in api.store.iter(deployments.key):
        labels = deployment["metadata"].get("labels") or {}
        if labels.get("app.kubernetes.io/name") == "cert-manager":
            yield deployment


def resource_namespace(api: ObjectApi) -> str:
    """The cluster resource namespace: the cert-manager controller's namespace."""
    for deployment in controller_deployments(api):
        return str(deployment["metadata"]["namespace"])
    return DEFAULT_NAMESPACE


def is_ready(issuer: JSON | None) -> bool:
    """Whether ``issuer`` has the condition ``Ready`` True for its current generation."""
    if issuer is None:
        return False
    generation = issuer["metadata"].get("generation", 1)
    for condition in (issuer.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            current = condition.get("observedGeneration", generation) == generation
            return bool(condition.get("status") == "True" and current)
    return False


def setup(api: ObjectApi, namespace: str, issuer: JSON) -> Outcome | None:
    """The outcome of setting ``issuer`` up; None for an issuer type not played."""
    spec = issuer.get("spec") or {}
    if "acme" in spec:
        return _acme(api, namespace, issuer, spec.get("acme") or {})
    if "selfSigned" in spec:
        return Outcome("True", "IsReady", "")
    if "ca" in spec:
        name = str((spec.get("ca") or {}).get("secretName", ""))
        if _secret(api, namespace, name) is None:
            message = f'Error getting keypair for CA issuer: secret "{name}" not found'
            return Outcome("False", "ErrGetKeyPair", message)
        return Outcome("True", "KeyPairVerified", "Signing CA verified")
    return None


def _secret(api: ObjectApi, namespace: str, name: str) -> JSON | None:
    found: JSON | None = api.store.find(rtype(api, "", "secrets").key, namespace, name)
    return found


def _acme(api: ObjectApi, namespace: str, issuer: JSON, acme: JSON) -> Outcome:
    server = str(acme.get("server", ""))
    if server in _V1_TO_V2:
        message = (
            f"Your ACME server URL is set to a v1 endpoint ({server}). You should update the "
            f'spec.acme.server field to "{_V1_TO_V2[server]}"'
        )
        return Outcome("False", "InvalidConfig", message)
    key = _account_key(api, namespace, acme)
    if isinstance(key, Outcome):
        return key
    eab = (acme.get("externalAccountBinding") or {}).get("keySecretRef")
    if eab is not None and _secret(api, namespace, str(eab.get("name", ""))) is None:
        message = f'Failed to register ACME account: secrets "{eab.get("name", "")}" not found'
        return Outcome("False", "ErrRegisterACMEAccount", message)
    if server not in api.acme_directories:
        host = urllib.parse.urlsplit(server).hostname or server
        message = (
            f'Failed to register ACME account: Get "{server}": dial tcp: lookup {host}: '
            "no such host"
        )
        return Outcome("False", "ErrRegisterACMEAccount", message)
    return Outcome("True", "ACMEAccountRegistered", REGISTERED, _account(issuer, acme, key))


def _account_key(api: ObjectApi, namespace: str, acme: JSON) -> bytes | Outcome:
    """The account key's PKCS#1 DER: read from its Secret, or generated into a new one."""
    ref = acme.get("privateKeySecretRef") or {}
    name, field = str(ref.get("name", "")), str(ref.get("key") or "tls.key")
    secret = _secret(api, namespace, name)
    if secret is None and acme.get("disableAccountKeyGeneration"):
        message = (
            "Failed to verify ACME account: the ACME issuer config has "
            "'disableAccountKeyGeneration' set to true, but the secret was not found: "
            f'secret "{name}" not found'
        )
        return Outcome("False", "ErrVerifyACMEAccount", message)
    if secret is None:
        return _generate_key(api, namespace, name, field)
    read = _read_key(str((secret.get("data") or {}).get(field, "")))
    if read is None:
        message = f'ACME private key in "{name}" is not of type RSA'
        return Outcome("False", "ErrVerifyACMEAccount", message)
    if isinstance(read, str):
        return Outcome("False", "ErrVerifyACMEAccount", f"Account private key is invalid: {read}")
    return read


@functools.lru_cache(maxsize=64)
def _read_key(data: str) -> bytes | str | None:
    """An account key Secret's value (base64 of a PEM): its PKCS#1 DER, the parse error, or
    None for a key that is not RSA. Cached: every controller pass reads the key again."""
    try:
        key = serialization.load_pem_private_key(base64.b64decode(data), password=None)
    except ValueError as exc:
        return str(exc) or "no PEM key found"
    return _pkcs1(key) if isinstance(key, rsa.RSAPrivateKey) else None


def _generate_key(api: ObjectApi, namespace: str, name: str, field: str) -> bytes | Outcome:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1, as cert-manager writes it
        serialization.NoEncryption(),
    )
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "cert-manager"},
        },
        "data": {field: base64.b64encode(pem).decode()},
    }
    try:
        api.create(rtype(api, "", "secrets"), namespace, secret, CONTROLLER)
    except ApiError as exc:  # the namespace is missing or terminating
        message = f"Failed to register ACME account: {exc}"
        return Outcome("False", "ErrRegisterACMEAccount", message)
    return _pkcs1(key)


def _pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _account(issuer: JSON, acme: JSON, key: bytes) -> JSON:
    """``status.acme``: the account's URI (kept while the server and key are the same), the
    e-mail registered and the key's hash (base64 of the SHA-256 of its PKCS#1 DER)."""
    digest = base64.b64encode(hashlib.sha256(key).digest()).decode()
    server = urllib.parse.urlsplit(str(acme.get("server", "")))
    current = (issuer.get("status") or {}).get("acme") or {}
    uri = str(current.get("uri", ""))
    if current.get("lastPrivateKeyHash") != digest or urllib.parse.urlsplit(uri).netloc != (
        server.netloc
    ):
        number = int.from_bytes(hashlib.sha256(key).digest()[:4], "big")
        uri = f"{server.scheme}://{server.netloc}/acme/acct/{number}"
    account: JSON = {"uri": uri, "lastPrivateKeyHash": digest}
    if acme.get("email"):
        account["lastRegisteredEmail"] = acme["email"]
    return account


def _record(api: ObjectApi, issuers: Any, issuer: JSON, outcome: Outcome) -> None:
    """Write the outcome as cert-manager does (the condition's ``lastTransitionTime`` moves only
    when its status does), unless the issuer's status already says it."""
    status = dict(issuer.get("status") or {})
    generation = issuer["metadata"].get("generation", 1)
    previous = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    condition = {
        "type": "Ready",
        "status": outcome.status,
        "reason": outcome.reason,
        "message": outcome.message,
        "lastTransitionTime": api.store.clock.stamp(),
        "observedGeneration": generation,
    }
    if previous is not None and previous.get("status") == outcome.status:
        condition["lastTransitionTime"] = previous.get("lastTransitionTime")
    wanted = dict(status, conditions=[condition])
    if outcome.acme is not None:
        wanted["acme"] = outcome.acme
    if wanted != status:
        api.commit_raw(issuers, with_status(issuer, wanted))
