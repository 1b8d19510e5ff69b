"""A local stand-in of Microsoft Entra ID's token endpoint and of the Azure Resource Manager
calls the plugin makes, over HTTPS on 127.0.0.1, for the sandbox and the tests.

No ARM or Entra emulator exists. This server answers the exact requests the official SDKs
(azure-identity, azure-mgmt-resource, azure-mgmt-storage, azure-mgmt-containerservice) send,
with the shapes of the real REST API (the SDKs' own models deserialize them):

- Entra ID: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials: a client secret, or a client
  assertion, which is how a certificate and a federated token reach Entra). Each token is
  random and expires after ``token_seconds``. A token for Storage's scope
  (:data:`STORAGE_SCOPE`) has the shape of Entra's: a JWT with Storage's audience, an issuer
  under ``https://sts.windows.net/<tenant>/`` and ``iat``/``nbf``/``exp``, which is what
  Azurite's OAuth mode (``--oauth basic``) reads; it is not signed (Azurite does not check a
  signature), so nothing but a stand-in accepts it.
- ARM, every call with a bearer token this server issued (else 401
  ``InvalidAuthenticationToken``): resource groups; storage accounts, their blob service
  (versioning, soft delete) and containers, a container being made in the local Azurite too;
  managed clusters' ``stop`` and ``start`` and their ``powerState``.

Stop and start are long-running as on AKS: the POST answers 202 with an
``Azure-AsyncOperation`` header (the operation's status, which azure-mgmt-core's ARM poller
reads: ``{"status": "InProgress"}`` until it ends, then ``Succeeded``; it then reads the
``Location`` header's result, 204) and a ``Location`` header. For ``operation_seconds`` the
cluster reads ``provisioningState`` ``Stopping`` (or ``Starting``) with its former
``powerState``, and another stop or start is refused as AKS refuses it (409
``OperationNotAllowed``); then it reads ``Succeeded`` and its new power state, whether
anyone polls or not.

A missing resource is a 404 with ARM's error body (``ResourceGroupNotFound``,
``ResourceNotFound``). Every request is recorded (method, path, grant type), never a secret.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import attrs

from qengine_azure import local_catalog
from qengine_azure.local_tls import LocalTls
from qengine_azure.token_endpoint import STORAGE_RESOURCE

STORAGE_SCOPE = f"{STORAGE_RESOURCE}/.default"

_SUB = r"/subscriptions/(?P<sub>[^/]+)"
_GROUP = _SUB + r"/resourcegroups/(?P<group>[^/]+)"
_ACCOUNT = _GROUP + r"/providers/microsoft\.storage/storageaccounts/(?P<account>[^/]+)"
_CLUSTER = _GROUP + r"/providers/microsoft\.containerservice/managedclusters/(?P<cluster>[^/]+)"
_ENTRA = re.compile(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)")
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern + "$", re.IGNORECASE))
    for name, pattern in (
        ("group", _GROUP),
        ("account", _ACCOUNT),
        ("blob_service", _ACCOUNT + r"/blobservices/default"),
        ("container", _ACCOUNT + r"/blobservices/default/containers/(?P<container>[^/]+)"),
        ("cluster", _CLUSTER),
        ("zone", _GROUP + r"/providers/microsoft\.network/dnszones/(?P<zone>[^/]+)"),
        (
            "record_set",
            _GROUP + r"/providers/microsoft\.network/dnszones/(?P<zone>[^/]+)"
            r"/(?P<rtype>a|aaaa|cname|txt)/(?P<name>[^/]+)",
        ),
        ("skus", _SUB + r"/providers/microsoft\.compute/skus"),
        ("usages", _SUB + r"/providers/microsoft\.compute/locations/(?P<location>[^/]+)/usages"),
        (
            "network_usages",
            _SUB + r"/providers/microsoft\.network/locations/(?P<location>[^/]+)/usages",
        ),
        ("cluster_action", _CLUSTER + r"/(?P<action>stop|start)"),
        (
            "operation",
            _SUB + r"/providers/microsoft\.containerservice/locations/(?P<location>[^/]+)"
            r"/(?P<kind>operations|operationresults)/(?P<operation>[^/]+)",
        ),
    )
)


@attrs.define
class Recorded:
    """One request the stand-in answered: its method, path and, for a token, the grant type,
    the kind of proof (``secret`` or ``assertion``; never the value) and the scope."""

    method: str
    path: str
    grant: str = ""
    proof: str = ""
    scope: str = ""


@attrs.define
class ClusterOperation:
    """A stop or start in flight on a managed cluster, or ended (``ended``)."""

    cluster_id: str
    power: str
    started: float
    ends_at: float
    ended: bool = False


@attrs.define
class ArmState:
    """What the stand-in holds, by lower-cased resource id."""

    resources: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    tokens: dict[str, float] = attrs.field(factory=dict)
    requests: list[Recorded] = attrs.field(factory=list)
    operations: dict[str, ClusterOperation] = attrs.field(factory=dict)
    #: Each status an operation's poll was answered, in order.
    operation_answers: list[str] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)


class LocalArm:
    """The stand-in on a free port of 127.0.0.1, serving TLS with ``tls``; stopped on exit.

    ``on_container``: called with (account, container) when a container is created, so the
    blob data plane (Azurite) has it too. ``accounts``: the storage account names that may be
    created (those the data plane serves); any other name is answered as Azure answers a name
    another subscription holds (409 ``StorageAccountAlreadyTaken``). None: any name.
    ``token_seconds``: the life of each token issued. ``operation_seconds``: how long a
    managed cluster's stop or start stays in flight (AKS takes minutes; short by default).
    """

    def __init__(
        self,
        tls: LocalTls,
        *,
        on_container: Callable[[str, str], None] | None = None,
        accounts: frozenset[str] | None = None,
        token_seconds: int = 3600,
        operation_seconds: float = 0.5,
    ) -> None:
        self.tls = tls
        self.accounts = accounts
        #: The tenant Key Vault's challenge names (a vault belongs to one tenant).
        self.vault_tenant = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        #: Key Vault keys by name: their versions, oldest first (RSA private keys).
        self.vault_keys: dict[str, list[tuple[str, Any]]] = {}
        #: Compute's VM sizes by region and quotas (by region), as the stand-in serves them.
        self.skus: Callable[[str], list[dict[str, Any]]] = local_catalog.skus
        self.usages: dict[str, list[dict[str, Any]]] = {}
        self.network_usages: dict[str, list[dict[str, Any]]] = {}
        self.state = ArmState()
        self.on_container = on_container
        self.token_seconds = token_seconds
        self.operation_seconds = operation_seconds
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL of both ARM and the Entra authority."""
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalArm:
        handler = type("Handler", (_Handler,), {"arm": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def resource(self, resource_id: str) -> dict[str, Any] | None:
        """The resource stored under ``resource_id`` (any case), or None."""
        self.settle()
        with self.state.lock:
            return self.state.resources.get(resource_id.lower())

    def begin_power(self, cluster_id: str, running: bool) -> str | None:
        """Start a stop or start of the managed cluster; its operation's id, or None when
        another one is in flight (AKS refuses it)."""
        self.settle()
        now = time.time()
        with self.state.lock:
            cluster = self.state.resources[cluster_id.lower()]
            properties = cluster.setdefault("properties", {})
            if properties.get("provisioningState") in ("Stopping", "Starting"):
                return None
            properties["provisioningState"] = "Starting" if running else "Stopping"
            operation = secrets.token_hex(8)
            self.state.operations[operation] = ClusterOperation(
                cluster_id=cluster_id.lower(),
                power="Running" if running else "Stopped",
                started=now,
                ends_at=now + self.operation_seconds,
            )
        self.settle()
        return operation

    def settle(self) -> None:
        """End the operations whose time is up: their clusters read ``Succeeded`` and their
        new power state."""
        now = time.time()
        with self.state.lock:
            for operation in self.state.operations.values():
                if operation.ended or operation.ends_at > now:
                    continue
                operation.ended = True
                cluster = self.state.resources.get(operation.cluster_id)
                if cluster is not None:
                    properties = cluster.setdefault("properties", {})
                    properties["provisioningState"] = "Succeeded"
                    properties["powerState"] = {"code": operation.power}

    def put_resource(self, resource_id: str, body: dict[str, Any]) -> None:
        """Store ``body`` as the resource (a test seeding a cluster, say)."""
        with self.state.lock:
            self.state.resources[resource_id.lower()] = body

    def delete_resource(self, resource_id: str) -> None:
        """Forget the resource (a stand-in cluster destroyed with its Terraform state)."""
        with self.state.lock:
            self.state.resources.pop(resource_id.lower(), None)

    def create_vault_key(self, name: str) -> str:
        """Create (or rotate to) a new RSA 2048 version of the Key Vault key ``name``;
        returns its key id (``https://.../keys/<name>/<version>``)."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        version = secrets.token_hex(16)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        with self.state.lock:
            self.vault_keys.setdefault(name, []).append((version, key))
        return f"{self.url}/keys/{name}/{version}"

    def issue_token(self, scope: str = "", tenant: str = "", client: str = "") -> dict[str, Any]:
        """A new access token, as Entra's token endpoint answers it (a JWT for Storage's
        ``scope``, issued by ``tenant`` to ``client``)."""
        token = secrets.token_urlsafe(32)
        if scope == STORAGE_SCOPE:
            token = _storage_jwt(tenant, client, self.token_seconds)
        with self.state.lock:
            self.state.tokens[token] = time.time() + self.token_seconds
        return {"token_type": "Bearer", "expires_in": self.token_seconds, "access_token": token}

    def token_valid(self, header: str) -> bool:
        """Whether ``header`` is ``Bearer`` and a token issued here that has not expired."""
        scheme, _, token = header.partition(" ")
        with self.state.lock:
            expiry = self.state.tokens.get(token)
        return scheme == "Bearer" and expiry is not None and expiry > time.time()


def _storage_jwt(tenant: str, client: str, seconds: int) -> str:
    """An unsigned JWT with the claims Azurite's OAuth mode checks, and a random ``uti``."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    now = int(time.time())
    claims = {
        "aud": STORAGE_RESOURCE,
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + seconds,
        "tid": tenant,
        "appid": client,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class _Handler(BaseHTTPRequestHandler):
    arm: LocalArm
    protocol_version = "HTTP/1.1"
    _raw: bytes = b""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, status: int, body: object | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", secrets.token_hex(8))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        self._reply(status, {"error": {"code": code, "message": message}})

    def _read(self) -> None:
        # Read the whole body before any answer: an unread body on a kept-alive connection
        # would be taken for the next request.
        length = int(self.headers.get("Content-Length") or 0)
        self._raw = self.rfile.read(length) if length else b""

    def _body(self) -> dict[str, Any]:
        raw = self._raw
        if not raw:
            return {}
        content_type = self.headers.get("Content-Type", "")
        if "x-www-form-urlencoded" in content_type:
            return dict(urllib.parse.parse_qsl(raw.decode()))
        loaded: dict[str, Any] = json.loads(raw)
        return loaded

    def _record(self, path: str, grant: str = "", proof: str = "", scope: str = "") -> None:
        with self.arm.state.lock:
            self.arm.state.requests.append(Recorded(self.command, path, grant, proof, scope))

    # -- Entra ID -------------------------------------------------------------------

    def _entra(self, path: str) -> bool:
        match = re.fullmatch(
            r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)", path
        )
        if match is None:
            return False
        tenant, what = match.groups()
        base = f"{self.arm.url}/{tenant}"
        if what.startswith("v2.0"):
            self._record(path)
            self._reply(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                    "tenant_region_scope": "EU",
                },
            )
            return True
        form = self._body()
        grant = form.get("grant_type", "")
        proof = "assertion" if form.get("client_assertion") else ""
        proof = "secret" if form.get("client_secret") else proof
        self._record(path, grant, proof, form.get("scope", ""))
        has_proof = bool(proof)
        if grant != "client_credentials" or not form.get("client_id") or not has_proof:
            self._reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "AADSTS900144: The request body must contain "
                    "client_id and a client secret or assertion.",
                },
            )
            return True
        self._reply(
            200, self.arm.issue_token(form.get("scope", ""), tenant, form.get("client_id", ""))
        )
        return True

    # -- ARM --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        self._record(path)
        found = self.arm.resource(path) is not None
        self.send_response(204 if found else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _dispatch(self) -> None:
        self._read()
        path = urllib.parse.urlsplit(self.path).path
        if self._entra(path):
            return
        if path.startswith("/keys/"):
            self._vault(path)
            return
        self._record(path)
        if not self.arm.token_valid(self.headers.get("Authorization", "")):
            self._error(401, "InvalidAuthenticationToken", "The access token is invalid.")
            return
        for name, pattern in ROUTES:
            match = pattern.match(path)
            if match is not None:
                getattr(self, f"_{name}")(path, match.groupdict())
                return
        self._error(404, "InvalidResourceType", f"no such resource type: {path}")

    def _crud(
        self,
        path: str,
        build: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        created: int = 201,
    ) -> None:
        existing = self.arm.resource(path)
        if self.command == "GET":
            if existing is None:
                self._error(404, "ResourceNotFound", f"The Resource '{path}' was not found.")
            else:
                self._reply(200, existing)
            return
        if self.command == "DELETE":
            self.arm.delete_resource(path)
            self._reply(200 if existing else 204)
            return
        body = build(self._body())
        self.arm.put_resource(path, body)
        self._reply(200 if existing else created, body)

    def _group(self, path: str, found: dict[str, str]) -> None:
        if self.command == "GET" and self.arm.resource(path) is None:
            self._error(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{found['group']}' could not be found.",
            )
            return

        def build(body: dict[str, Any]) -> dict[str, Any]:
            return {
                "id": path,
                "name": found["group"],
                "type": "Microsoft.Resources/resourceGroups",
                "location": body.get("location", ""),
                "tags": body.get("tags", {}),
                "properties": {"provisioningState": "Succeeded"},
            }

        self._crud(path, build)

    def _group_missing(self, group: str) -> None:
        self._error(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")

    def _parent_missing(self, found: dict[str, str]) -> bool:
        group = f"/subscriptions/{found['sub']}/resourceGroups/{found['group']}"
        if self.command == "PUT" and self.arm.resource(group) is None:
            self._error(
                404,
                "ResourceGroupNotFound",
                f"Resource group '{found['group']}' could not be found.",
            )
            return True
        return False

    def _account(self, path: str, found: dict[str, str]) -> None:
        if self._parent_missing(found):
            return
        name = found["account"]
        taken = self.arm.accounts is not None and name not in self.arm.accounts
        if self.command == "PUT" and taken and self.arm.resource(path) is None:
            message = f"The storage account named {name} is already taken."
            self._error(409, "StorageAccountAlreadyTaken", message)
            return

        def build(body: dict[str, Any]) -> dict[str, Any]:
            props = body.get("properties", {})
            name = found["account"]
            return {
                "id": path,
                "name": name,
                "type": "Microsoft.Storage/storageAccounts",
                "location": body.get("location", ""),
                "kind": body.get("kind", "StorageV2"),
                "sku": {
                    "name": body.get("sku", {}).get("name", "Standard_LRS"),
                    "tier": "Standard",
                },
                "tags": body.get("tags", {}),
                "properties": {
                    **props,
                    "provisioningState": "Succeeded",
                    "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
                },
            }

        # The real API answers 202 and a poll; a finished 200 is within its contract.
        self._crud(path, build, created=200)
        service = f"{path}/blobServices/default"
        if self.command == "PUT" and self.arm.resource(service) is None:
            # Every account has its blob service, with Azure's defaults: no versioning, no
            # soft delete.
            disabled = {"enabled": False}
            properties = {
                "isVersioningEnabled": False,
                "deleteRetentionPolicy": disabled,
                "containerDeleteRetentionPolicy": disabled,
            }
            self.arm.put_resource(
                service,
                {
                    "id": service,
                    "name": "default",
                    "type": "Microsoft.Storage/storageAccounts/blobServices",
                    "properties": properties,
                },
            )

    def _blob_service(self, path: str, found: dict[str, str]) -> None:
        def build(body: dict[str, Any]) -> dict[str, Any]:
            return {
                "id": path,
                "name": "default",
                "type": "Microsoft.Storage/storageAccounts/blobServices",
                "properties": body.get("properties", {}),
            }

        self._crud(path, build, created=200)

    def _container(self, path: str, found: dict[str, str]) -> None:
        def build(body: dict[str, Any]) -> dict[str, Any]:
            if self.arm.on_container is not None:
                self.arm.on_container(found["account"], found["container"])
            return {
                "id": path,
                "name": found["container"],
                "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
                "properties": {"publicAccess": "None", **body.get("properties", {})},
            }

        self._crud(path, build)

    def _cluster(self, path: str, found: dict[str, str]) -> None:
        if self.command != "GET":
            self._error(405, "MethodNotAllowed", "the stand-in only reads managed clusters")
            return
        self._crud(path, lambda body: body)

    def _zone(self, path: str, found: dict[str, str]) -> None:
        if self.command != "GET":
            self._error(405, "MethodNotAllowed", "the stand-in only reads DNS zones")
            return
        self._crud(path, lambda body: body)

    def _record_set(self, path: str, found: dict[str, str]) -> None:
        zone_id = path.rsplit("/", 2)[0]
        existing = self.arm.resource(path)
        if self.command in ("PUT", "DELETE"):
            if self.arm.resource(zone_id) is None:
                self._error(
                    404, "ParentResourceNotFound", f"The DNS zone {found['zone']} was not found."
                )
                return
            if_match = self.headers.get("If-Match")
            if_none = self.headers.get("If-None-Match")
            etag = existing.get("etag") if existing else None
            if (if_match and if_match != etag) or (if_none == "*" and existing is not None):
                self._error(412, "PreconditionFailed", "The condition on the record set failed.")
                return

        def build(body: dict[str, Any]) -> dict[str, Any]:
            name = found["name"]
            fqdn = found["zone"] if name == "@" else f"{name}.{found['zone']}"
            return {
                "id": path,
                "name": name,
                "type": f"Microsoft.Network/dnszones/{found['rtype'].upper()}",
                "etag": secrets.token_hex(8),
                "properties": {**body.get("properties", {}), "fqdn": f"{fqdn}."},
            }

        self._crud(path, build)

    # -- Key Vault (keys) -------------------------------------------------------------

    def _vault(self, path: str) -> None:
        self._record(path)
        if not self.arm.token_valid(self.headers.get("Authorization", "")):
            # Key Vault's challenge: where to get a token, and for which resource.
            challenge = (
                f'Bearer authorization="{self.arm.url}/{self.arm.vault_tenant}", '
                'resource="https://vault.azure.net"'
            )
            self.send_response(401)
            self.send_header("WWW-Authenticate", challenge)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        parts = path.strip("/").split("/")  # keys, name[, version[, operation]]
        versions = self.arm.vault_keys.get(parts[1], []) if len(parts) > 1 else []
        chosen = [key for key in versions if len(parts) < 3 or key[0] == parts[2]]
        if not chosen:
            self._error(404, "KeyNotFound", f"A key with (name/id) {path} was not found.")
            return
        version, key = chosen[-1]
        kid = f"{self.arm.url}/keys/{parts[1]}/{version}"
        operation = parts[3] if len(parts) > 3 else ""
        if self.command == "GET" and not operation:
            self._reply(200, _jwk(kid, key))
        elif self.command == "POST" and operation in ("wrapkey", "unwrapkey"):
            self._wrap(kid, key, operation)
        else:
            self._error(405, "BadParameter", f"{self.command} {operation} is not supported here")

    def _wrap(self, kid: str, key: Any, operation: str) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        body = self._body()
        if body.get("alg") != "RSA-OAEP-256":
            self._error(400, "BadParameter", f"unsupported algorithm {body.get('alg')!r}")
            return
        oaep = padding.OAEP(
            mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        value = _unb64url(str(body.get("value", "")))
        try:
            if operation == "wrapkey":
                out = key.public_key().encrypt(value, oaep)
            else:
                out = key.decrypt(value, oaep)
        except ValueError:
            self._error(400, "BadParameter", "The parameter is incorrect.")
            return
        self._reply(200, {"kid": kid, "value": _b64url(out)})

    def _skus(self, path: str, found: dict[str, str]) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        wanted = re.search(r"location eq '([^']+)'", query.get("$filter", [""])[0])
        location = wanted.group(1) if wanted else "westeurope"
        self._reply(200, {"value": self.arm.skus(location)})

    def _usages(self, path: str, found: dict[str, str]) -> None:
        location = found["location"]
        self._reply(200, {"value": self.arm.usages.get(location, local_catalog.usages())})

    def _network_usages(self, path: str, found: dict[str, str]) -> None:
        location = found["location"]
        default = local_catalog.network_usages()
        self._reply(200, {"value": self.arm.network_usages.get(location, default)})

    def _cluster_action(self, path: str, found: dict[str, str]) -> None:
        cluster_id = path.rsplit("/", 1)[0]
        cluster = self.arm.resource(cluster_id)
        if self.command != "POST" or cluster is None:
            self._error(404, "ResourceNotFound", f"The Resource '{cluster_id}' was not found.")
            return
        operation = self.arm.begin_power(cluster_id, found["action"] == "start")
        if operation is None:
            state = cluster.get("properties", {}).get("provisioningState", "")
            self._error(
                409,
                "OperationNotAllowed",
                f"Operation is not allowed: Another operation ({state}) is in progress, please "
                "wait for it to finish before starting a new operation. See "
                "https://aka.ms/aks-pending-operation for more details",
            )
            return
        # As AKS answers: 202 and the long-running operation's status and result URLs.
        base = (
            f"{self.arm.url}/subscriptions/{found['sub']}/providers/"
            f"Microsoft.ContainerService/locations/{cluster.get('location', '')}"
        )
        query = "?api-version=2016-03-30"
        self.send_response(202)
        self.send_header("Azure-AsyncOperation", f"{base}/operations/{operation}{query}")
        self.send_header("Location", f"{base}/operationresults/{operation}{query}")
        self.send_header("Retry-After", "0")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _operation(self, path: str, found: dict[str, str]) -> None:
        if found["kind"].lower() == "operationresults":
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.arm.settle()
        with self.arm.state.lock:
            operation = self.arm.state.operations.get(found["operation"])
        if operation is None:
            self._error(404, "NotFound", f"The operation {found['operation']} was not found.")
            return
        status = "Succeeded" if operation.ended else "InProgress"
        with self.arm.state.lock:
            self.arm.state.operation_answers.append(status)
        body = {"name": found["operation"], "status": status, "startTime": _iso(operation.started)}
        if operation.ended:
            body["endTime"] = _iso(operation.ends_at)
        self._reply(200, body)


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64url(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwk(kid: str, key: Any) -> dict[str, Any]:
    """Key Vault's answer to a key GET: its public JSON Web Key and attributes."""
    numbers = key.public_key().public_numbers()

    def _int(value: int) -> str:
        return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {
        "key": {
            "kid": kid,
            "kty": "RSA",
            "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            "n": _int(numbers.n),
            "e": _int(numbers.e),
        },
        "attributes": {"enabled": True, "recoveryLevel": "Recoverable+Purgeable"},
    }
