"""A local stand-in of Artifact Registry's Docker endpoint (``<location>-docker.pkg.dev``):
a real Distribution registry (Debian's ``docker-registry``) behind a small front that checks
credentials as Artifact Registry does.

Clients log in with the user ``oauth2accesstoken`` and a short-lived access token as the
password. As Artifact Registry does, the front answers a request without credentials with
``401`` and a ``Bearer`` challenge whose realm is its token endpoint (``/v2/token``, with the
``service`` and ``scope``); the token endpoint takes those Basic credentials and gives a
registry token, and without credentials an anonymous one, whose requests are ``403 DENIED``
("Unauthenticated request. Unauthenticated requests do not have permission ..."); a request
may also carry the Basic credentials itself. An access token the sandbox's IAM Credentials
stand-in did not issue, or that has expired, is ``401 UNAUTHORIZED``; a repository the
Artifact Registry API stand-in does not hold is ``403 DENIED`` ("Permission ... denied on
resource ... (or it may not exist)"), as a push to a missing repository is on Google.
Everything else goes to the Distribution registry unchanged (its ``Location`` headers name
the front, whose ``Host`` it is sent); a manifest pushed under a tag is recorded in the API
stand-in, so the registry's digest and existence checks (``packages.tags``,
``packages.versions``) see it.

One front serves every location (the host names only differ by location on Google). Plain
HTTP on 127.0.0.1; Google is HTTPS.
"""

from __future__ import annotations

import base64
import http.client
import http.server
import json
import re
import secrets
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qengine.plugin import InvalidInputError
from qengine_gcp.sandbox_artifact_registry import LocalArtifactRegistry
from qengine_gcp.sandbox_http import LoopbackServer, TokenIssuer

USERNAME = "oauth2accesstoken"
_REPOSITORY = re.compile(
    r"/v2/(?P<project>[^/]+)/(?P<repository>[^/]+)/(?P<image>.+)/(?P<kind>manifests|blobs|tags)(?P<rest>/.*)?"
)
_HOP = {"connection", "keep-alive", "transfer-encoding", "authorization", "proxy-connection"}


def registry_binary() -> str:
    """The ``docker-registry`` binary; InvalidInputError naming the package without it."""
    found = shutil.which("docker-registry")
    if found is None:
        raise InvalidInputError(
            "the sandbox's Artifact Registry needs the Distribution registry, and "
            "'docker-registry' is not an executable on the PATH",
            hint="Install it (Debian and Ubuntu: `apt-get install docker-registry`; a checkout "
            "of qengine: `bash .ci/install-build-tools.sh`), or run the job without an "
            "artifact-registry registry.",
        )
    return found


class DockerFront(LoopbackServer):
    """The front: ``issuer`` says which access tokens are current, ``api`` which repositories
    exist; ``upstream`` is the Distribution registry's ``host:port``. Use it as a context
    manager; ``host`` is its ``127.0.0.1:PORT``."""

    def __init__(self, upstream: str, *, issuer: TokenIssuer, api: LocalArtifactRegistry) -> None:
        self.upstream = upstream
        self.issuer = issuer
        self.api = api
        self._grants: dict[str, str] = {}  # registry token -> the access token it stands for
        self._guard = threading.Lock()
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return None

            def _serve(self) -> None:
                front.serve(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        super().__init__(Handler)

    def serve(self, handler: Any) -> None:
        """Answer one request of ``handler`` (a ``BaseHTTPRequestHandler``)."""
        body = _read_body(handler)
        route = urllib.parse.urlsplit(handler.path).path
        if route == "/v2/token":
            self._token(handler)
            return
        match = _REPOSITORY.fullmatch(route)
        verb = "downloadArtifacts" if handler.command in ("GET", "HEAD") else "uploadArtifacts"
        access = self._access_token(handler.headers.get("Authorization"))
        if access is None or (access and not self.issuer.valid(f"Bearer {access}")):
            self._unauthorized(handler, match)
            return
        if match is not None and (not access or self._repository(match) is None):
            resource = f"projects/{match['project']}/locations/-/repositories/{match['repository']}"
            message = (
                f'Permission "artifactregistry.repositories.{verb}" denied on resource '
                f'"{resource}" (or it may not exist)'
                if access
                else "Unauthenticated request. Unauthenticated requests do not have permission "
                f'"artifactregistry.repositories.{verb}" on resource "{resource}" (or it may '
                "not exist)"
            )
            _reply(handler, 403, {"errors": [{"code": "DENIED", "message": message}]})
            return
        status, headers, answer = self._forward(handler, body)
        if match is not None and handler.command == "PUT" and match["kind"] == "manifests":
            self._record(match, status, headers)
        _send(handler, status, headers, answer)

    def _token(self, handler: Any) -> None:
        """A registry token: for Basic credentials of a current access token, or, without
        credentials, an anonymous one (which Artifact Registry then denies everything)."""
        authorization = handler.headers.get("Authorization")
        access = self._basic(authorization) if authorization else ""
        if access is None or (access and not self.issuer.valid(f"Bearer {access}")):
            _reply(handler, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "Unauthorized"}]})
            return
        token = secrets.token_urlsafe(32)
        with self._guard:
            self._grants[token] = access
        _reply(handler, 200, {"token": token, "access_token": token, "expires_in": 300})

    def _access_token(self, authorization: str | None) -> str | None:
        """The access token a request stands for ("" for an anonymous registry token), or
        None without credentials this front knows."""
        scheme, _, value = (authorization or "").partition(" ")
        if scheme == "Bearer":
            with self._guard:
                return self._grants.get(value)
        return self._basic(authorization)

    @staticmethod
    def _basic(authorization: str | None) -> str | None:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme != "Basic":
            return None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None
        return password if user == USERNAME and password else None

    def _unauthorized(self, handler: Any, match: re.Match[str] | None) -> None:
        challenge = f'Bearer realm="http://{self.host}/v2/token",service="{self.host}"'
        if match is not None:
            actions = "pull" if handler.command in ("GET", "HEAD") else "pull,push"
            name = f"{match['project']}/{match['repository']}/{match['image']}"
            challenge += f',scope="repository:{name}:{actions}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "Unauthorized"}]}
        _reply(handler, 401, body, {"WWW-Authenticate": challenge})

    def _repository(self, match: re.Match[str]) -> str | None:
        prefix, suffix = (
            f"projects/{match['project']}/locations/",
            f"/repositories/{match['repository']}",
        )
        for name in self.api.repositories:
            if name.startswith(prefix) and name.endswith(suffix):
                return name
        return None

    def _record(self, match: re.Match[str], status: int, headers: list[tuple[str, str]]) -> None:
        reference = (match["rest"] or "").lstrip("/")
        digest = dict((k.lower(), v) for k, v in headers).get("docker-content-digest")
        repository = self._repository(match)
        if status == 201 and digest and repository and not reference.startswith("sha256:"):
            self.api.push(repository, match["image"], reference, digest)

    def _forward(self, handler: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream, timeout=60)
        try:
            # Header by header: a client sends Accept once per manifest type it takes.
            connection.putrequest(
                handler.command, handler.path, skip_host=True, skip_accept_encoding=True
            )
            for key, value in handler.headers.items():
                if key.lower() not in _HOP and key.lower() != "content-length":
                    connection.putheader(key, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP]
            return response.status, kept, answer
        finally:
            connection.close()


def _read_body(handler: Any) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    return bytes(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)))


def _send(handler: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    length = str(len(body))
    if handler.command == "HEAD":  # HEAD names the length of what GET would give
        length = dict((k.lower(), v) for k, v in headers).get("content-length", length)
    handler.send_response(status)
    for key, value in headers:
        if key.lower() != "content-length":
            handler.send_header(key, value)
    handler.send_header("Content-Length", length)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _reply(
    handler: Any, status: int, body: dict[str, Any], extra: dict[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [("Content-Type", "application/json; charset=utf-8"), *(extra or {}).items()]
    handler.send_response(status)
    for key, value in headers:
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(data)


@contextmanager
def docker_endpoint(
    directory: Path, *, issuer: TokenIssuer, api: LocalArtifactRegistry
) -> Iterator[DockerFront]:
    """Start the Distribution registry storing under ``directory`` and the front before it;
    stop both on exit. InvalidInputError when ``docker-registry`` is not installed."""
    registry_binary()
    from qengine.testing.registry import run_registry

    with (
        run_registry(directory) as registry,
        DockerFront(registry.host, issuer=issuer, api=api) as front,
    ):
        yield front
