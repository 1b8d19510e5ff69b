"""Local fakes of the Google APIs the plugin's credentials call, for its tests.

No emulator of these exists; each fake answers the exact REST calls the official client
(google-auth) makes, with the shapes of the APIs' references:

- STS ``POST /v1/token`` (RFC 8693 token exchange, form-encoded): ``access_token``,
  ``issued_token_type``, ``token_type``, ``expires_in``; an unknown subject token is
  ``400 {"error": "invalid_grant", "error_description": ...}``;
- IAM Credentials ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`` (JSON
  ``delegates``, ``scope``, ``lifetime``): ``accessToken`` and ``expireTime`` (RFC 3339,
  UTC); a caller without the right is ``403`` with a ``PERMISSION_DENIED`` error body.

Issued tokens are recorded with their expiry, so a relay in front of a storage server can
refuse an expired one (:meth:`GoogleFakes.valid`).
"""

from __future__ import annotations

import datetime
import http.server
import itertools
import json
import threading
import urllib.parse
from typing import Any


class GoogleFakes:
    """STS and IAM Credentials on one local HTTP server; use it as a context manager.

    ``subject_token``: the one external token STS accepts; ``account``: the one service
    account the federated identity may impersonate.
    """

    def __init__(self, *, subject_token: str, account: str) -> None:
        self.subject_token = subject_token
        self.account = account
        self.issued: dict[str, datetime.datetime] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._numbers = itertools.count(1)
        self._guard = threading.Lock()
        fakes = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = fakes._route(self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> GoogleFakes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def valid(self, authorization: str | None) -> bool:
        """Whether ``authorization`` is ``Bearer <a token issued here, not expired>``."""
        token = (authorization or "").removeprefix("Bearer ")
        with self._guard:
            expiry = self.issued.get(token)
        return expiry is not None and datetime.datetime.now(datetime.UTC) < expiry

    def _issue(self, prefix: str, seconds: float) -> tuple[str, datetime.datetime]:
        token = f"{prefix}-{next(self._numbers)}-qengine-test-token"
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
        with self._guard:
            self.issued[token] = expiry
        return token, expiry

    def _route(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        if path == "/v1/token":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            self.calls.append(("sts", form))
            return self._exchange(form)
        prefix = "/v1/projects/-/serviceAccounts/"
        if path.startswith(prefix) and path.endswith(":generateAccessToken"):
            account = urllib.parse.unquote(path[len(prefix) : -len(":generateAccessToken")])
            request = json.loads(body)
            self.calls.append(("iam", {"account": account, **request}))
            return self._generate(account, request, headers.get("Authorization"))
        return 404, {"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}

    def _exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = "urn:ietf:params:oauth:grant-type:token-exchange"
        if form.get("grant_type") != grant or form.get("subject_token") != self.subject_token:
            return 400, {
                "error": "invalid_grant",
                "error_description": "The subject token could not be validated.",
            }
        token, _ = self._issue("federated", 3600)
        return 200, {
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": 3600,
        }

    def _generate(
        self, account: str, request: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        if account != self.account or not self.valid(authorization):
            return 403, {
                "error": {
                    "code": 403,
                    "message": "Permission 'iam.serviceAccounts.getAccessToken' denied on "
                    "resource (or it may not exist).",
                    "status": "PERMISSION_DENIED",
                }
            }
        seconds = float(str(request.get("lifetime", "3600s")).removesuffix("s"))
        token, expiry = self._issue("ya29.impersonated", seconds)
        return 200, {"accessToken": token, "expireTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}


class KmsFake:
    """Cloud KMS ``encrypt`` and ``decrypt`` (REST v1) on one local HTTP server, with real
    AES-256-GCM under per-version keys held in memory; use it as a context manager.

    As Cloud KMS does: the ciphertext names the version that made it (``decrypt`` goes to the
    CryptoKey), the additional authenticated data must match, the request's CRC32C
    checksums are verified (and reported verified) and the answer's are given; errors are
    Google's error bodies (400 ``INVALID_ARGUMENT`` for a ciphertext that does not open, 404
    for an unknown key, 401 for a bad token). :meth:`rotate` adds a primary version.
    """

    def __init__(self, key: str, *, token: str) -> None:
        import os

        self.key = key
        self.token = token
        self._versions = [os.urandom(32)]
        self.calls: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, answer = fake._route(self.path, self.headers.get("Authorization"), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> KmsFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def rotate(self) -> None:
        """A new primary version; the old ones still decrypt."""
        import os

        self._versions.append(os.urandom(32))

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"error": {"code": code, "message": message, "status": status}}

    def _route(
        self, path: str, authorization: str | None, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.token}":
            return self._error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        key, _, method = path.removeprefix("/v1/").partition(":")
        self.calls.append((method, body))
        if key != self.key:
            return self._error(404, "NOT_FOUND", f"{key} not found.")
        if method == "encrypt":
            return self._encrypt(body)
        if method == "decrypt":
            return self._decrypt(body)
        return self._error(404, "NOT_FOUND", f"Method {method} not found.")

    def _encrypt(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        import base64
        import os

        import google_crc32c
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        plaintext = base64.b64decode(body["plaintext"])
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        if str(google_crc32c.value(plaintext)) != str(body.get("plaintextCrc32c")):
            return self._error(
                400,
                "INVALID_ARGUMENT",
                "The checksum in field plaintext_crc32c did not match the data in field plaintext.",
            )
        version = len(self._versions)
        nonce = os.urandom(12)
        sealed = AESGCM(self._versions[-1]).encrypt(nonce, plaintext, aad)
        ciphertext = bytes([version]) + nonce + sealed
        return 200, {
            "name": f"{self.key}/cryptoKeyVersions/{version}",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "ciphertextCrc32c": str(google_crc32c.value(ciphertext)),
            "verifiedPlaintextCrc32c": True,
            "verifiedAdditionalAuthenticatedDataCrc32c": True,
            "protectionLevel": "SOFTWARE",
        }

    def _decrypt(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        import base64

        import google_crc32c
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ciphertext = base64.b64decode(body["ciphertext"])
        aad = base64.b64decode(body.get("additionalAuthenticatedData", ""))
        invalid = self._error(
            400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid."
        )
        if len(ciphertext) < 14 or not 1 <= ciphertext[0] <= len(self._versions):
            return invalid
        version, nonce, sealed = ciphertext[0], ciphertext[1:13], ciphertext[13:]
        try:
            plaintext = AESGCM(self._versions[version - 1]).decrypt(nonce, sealed, aad)
        except InvalidTag:
            return invalid
        return 200, {
            "plaintext": base64.b64encode(plaintext).decode(),
            "plaintextCrc32c": str(google_crc32c.value(plaintext)),
            "usedPrimary": version == len(self._versions),
            "protectionLevel": "SOFTWARE",
        }


class DnsFake:
    """Cloud DNS (REST v1) managed zones, record sets and changes on one local HTTP server;
    use it as a context manager. No emulator of Cloud DNS exists.

    As Cloud DNS does: ``managedZones.list`` filters by ``dnsName``; ``rrsets.list`` by
    ``name`` and ``type``; a change is applied atomically, its deletions having to match a
    held record set exactly (else 412 ``conditionNotMet``) and its additions not to exist
    after them (else 409 ``alreadyExists``); a new change is ``pending`` until it is read once
    (so a client must poll), then ``done``. ``token`` is the one bearer token accepted.
    """

    def __init__(self, project: str, zones: dict[str, str], *, token: str) -> None:
        self.project = project
        self.zones = zones  # managed zone name -> DNS name
        self.token = token
        self.records: dict[str, dict[tuple[str, str], dict[str, Any]]] = {z: {} for z in zones}
        self.changes: dict[str, dict[str, Any]] = {}
        self.posted = 0
        self._numbers = itertools.count(1)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                status, answer = fake._route(
                    self.command, self.path, self.headers.get("Authorization"), body
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> DnsFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @staticmethod
    def _error(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"domain": "global", "reason": reason, "message": message}],
            }
        }

    def _route(
        self, method: str, path: str, authorization: str | None, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.token}":
            return self._error(401, "authError", "Invalid Credentials")
        route, _, query = path.partition("?")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        prefix = f"/dns/v1/projects/{self.project}/managedZones"
        if not route.startswith(prefix):
            return self._error(403, "forbidden", "Forbidden")
        parts = [urllib.parse.unquote(p) for p in route[len(prefix) :].split("/") if p]
        if not parts and method == "GET":
            zones = [
                {"kind": "dns#managedZone", "name": name, "dnsName": dns, "visibility": "public"}
                for name, dns in self.zones.items()
                if "dnsName" not in params or params["dnsName"] == dns
            ]
            return 200, {"kind": "dns#managedZonesListResponse", "managedZones": zones}
        if not parts or parts[0] not in self.zones:
            return self._error(
                404, "notFound", "The 'parameters.managedZone' resource was not found."
            )
        zone, rest = parts[0], parts[1:]
        if rest == ["rrsets"] and method == "GET":
            sets = [
                held
                for (name, kind), held in sorted(self.records[zone].items())
                if params.get("name", name) == name and params.get("type", kind) == kind
            ]
            return 200, {"kind": "dns#resourceRecordSetsListResponse", "rrsets": sets}
        if rest == ["changes"] and method == "POST":
            return self._apply(zone, body)
        if len(rest) == 2 and rest[0] == "changes" and method == "GET":
            change = self.changes.get(rest[1])
            if change is None:
                return self._error(
                    404, "notFound", "The 'parameters.changeId' resource was not found."
                )
            answer = dict(change)
            change["status"] = "done"
            return 200, answer
        return self._error(404, "notFound", "Not Found")

    def _apply(self, zone: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        held = dict(self.records[zone])
        for index, deletion in enumerate(body.get("deletions", [])):
            key = (deletion["name"], deletion["type"])
            found = held.get(key)
            if found is None or {k: found[k] for k in ("ttl", "rrdatas")} != {
                k: deletion.get(k) for k in ("ttl", "rrdatas")
            }:
                return self._error(
                    412,
                    "conditionNotMet",
                    f"Precondition not met for 'entity.change.deletions[{index}]'",
                )
            del held[key]
        for index, addition in enumerate(body.get("additions", [])):
            key = (addition["name"], addition["type"])
            if key in held:
                return self._error(
                    409,
                    "alreadyExists",
                    f"The resource 'entity.change.additions[{index}]' named '{key[0]} "
                    f"({key[1]})' already exists",
                )
            held[key] = {
                "kind": "dns#resourceRecordSet",
                "name": addition["name"],
                "type": addition["type"],
                "ttl": int(addition.get("ttl", 300)),
                "rrdatas": list(addition.get("rrdatas", [])),
            }
        self.records[zone] = held
        self.posted += 1
        change_id = str(next(self._numbers))
        change = {
            "kind": "dns#change",
            "id": change_id,
            "status": "pending",
            "startTime": "2026-12-06T06:00:00.000Z",
            "additions": body.get("additions", []),
            "deletions": body.get("deletions", []),
        }
        self.changes[change_id] = change
        return 200, dict(change)


class ArtifactRegistryFake:
    """The Artifact Registry REST calls (v1) of the ``artifact-registry`` registry on one
    local HTTP server; use it as a context manager. No emulator of Artifact Registry exists.

    Repositories (get, create as a long-running operation that is done when read once,
    patch with an ``updateMask``), and packages' tags and versions (get; tags delete) with
    Google's error bodies. :meth:`push` records an image as a push through the registry's
    data plane would. ``token`` is the one bearer token accepted.
    """

    def __init__(self, *, token: str) -> None:
        self.token = token
        self.repositories: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, str] = {}  # tag name -> version name
        self.versions: set[str] = set()
        self.operations: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []
        self._numbers = itertools.count(1)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                status, answer = fake._route(
                    self.command, self.path, self.headers.get("Authorization"), body
                )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ArtifactRegistryFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def push(self, repository: str, package: str, tag: str, digest: str) -> None:
        """Record ``package:tag`` as pushed with ``digest`` into ``repository`` (its name)."""
        quoted = urllib.parse.quote(package, safe="")
        version = f"{repository}/packages/{quoted}/versions/{digest}"
        self.versions.add(version)
        self.tags[f"{repository}/packages/{quoted}/tags/{tag}"] = version

    @staticmethod
    def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"error": {"code": code, "message": message, "status": status}}

    def _route(
        self, method: str, path: str, authorization: str | None, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {self.token}":
            return self._error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        route, _, query = path.partition("?")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
        name = route.removeprefix("/v1/")
        self.calls.append((method, name))
        missing = self._error(404, "NOT_FOUND", "Requested entity was not found.")
        if method == "POST" and name.endswith("/repositories"):
            return self._create(name, params.get("repositoryId", ""), body)
        if name in self.operations and method == "GET":
            operation = self.operations[name]
            answer = dict(operation)
            operation["done"] = True
            return 200, answer
        if name in self.repositories:
            repository = self.repositories[name]
            if method == "PATCH" and params.get("updateMask") == "dockerConfig.immutableTags":
                repository["dockerConfig"] = dict(body.get("dockerConfig") or {})
            return 200, repository
        if "/tags/" in name:
            version = self.tags.get(name)
            if version is None:
                return missing
            if method == "DELETE":
                del self.tags[name]
                return 200, {}
            return 200, {"name": name, "version": version}
        if "/versions/" in name and name in self.versions:
            return 200, {"name": name, "createTime": "2026-12-06T06:00:00Z"}
        return missing

    def _create(
        self, parent: str, repository_id: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        name = f"{parent}/{repository_id}"
        if name in self.repositories:
            return self._error(409, "ALREADY_EXISTS", f"the repository already exists: {name}")
        repository = {
            "name": name,
            "format": body.get("format", "FORMAT_UNSPECIFIED"),
            "description": body.get("description", ""),
            "labels": body.get("labels", {}),
            "dockerConfig": body.get("dockerConfig", {}),
            "mode": "STANDARD_REPOSITORY",
            "createTime": "2026-12-06T06:00:00Z",
        }
        self.repositories[name] = repository
        location = parent.rsplit("/repositories", 1)[0]
        operation_name = f"{location}/operations/op-{next(self._numbers)}"
        response = {
            "@type": "type.googleapis.com/google.devtools.artifactregistry.v1.Repository",
            **repository,
        }
        self.operations[operation_name] = {
            "name": operation_name,
            "done": False,
            "response": response,
        }
        return 200, {"name": operation_name, "done": False}
