"""A local stand-in of an Azure Container Registry, for the sandbox and the tests: ACR's two
OAuth2 endpoints on 127.0.0.1 in front of a real Distribution registry (Debian's
``docker-registry``, token auth).

No ACR emulator exists. The pieces, each real where it can be:

- Microsoft Entra ID: the plugin's :class:`~qengine_azure.local_arm.LocalArm` (azure-identity
  gets its tokens there, over HTTPS);
- ``POST /oauth2/exchange`` (form ``grant_type=access_token``, ``service``, ``tenant``,
  ``access_token``): an Entra token LocalArm issued, unexpired, for the registry's service and
  tenant, gets ``{"refresh_token": ...}``, a JWT-shaped token living three hours as ACR's does;
  anything else a 401 with ACR's ``{"errors": [{"code": "UNAUTHORIZED", ...}]}`` body;
- ``/oauth2/token``: ``POST`` (``grant_type=refresh_token``, ``service``, ``scope``,
  ``refresh_token``) or ``GET`` with HTTP basic (the null user and the refresh token, as a
  Docker client sends a login's password) gets ``{"access_token": ...}``; the token itself
  comes from the project's Distribution token service (``qengine.testing.token_server``),
  whose one user is the null user with the refresh token as password, so the registry
  trusts it;
- the registry: ``docker-registry`` with ``auth.token`` whose realm is this stand-in's
  ``/oauth2/token``, so ``/v2/`` answers with the Bearer challenge ACR gives. Without the
  binary, :func:`run_acr` refuses with a :class:`~qengine.plugin.PluginError` naming the
  package to install.

Everything is plain HTTP on 127.0.0.1 but Entra. Requests are recorded (method, path,
grant type), never a token.
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import attrs

from qengine.plugin import PluginError
from qengine.testing.registry import LocalRegistry, run_registry
from qengine.testing.token_server import SERVICE, TokenServer, serve_tokens
from qengine_azure.acr_auth import NULL_USER
from qengine_azure.local_arm import LocalArm

#: The tenant the stand-in accepts unless told another (the tests' and the examples').
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
#: What provides the registry binary.
REGISTRY_PACKAGE = "docker-registry"


def refresh_token_like_acr(tenant: str, seconds: int = 3 * 3600) -> str:
    """A token shaped like ACR's refresh token: a JWT whose ``exp`` is three hours away."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    now = int(time.time())
    claims = {
        "jti": secrets.token_hex(16),
        "sub": "qengine-test-application",
        "nbf": now,
        "exp": now + seconds,
        "iat": now,
        "iss": "Azure Container Registry",
        "aud": SERVICE,
        "version": "1.0",
        "grant_type": "refresh_token",
        "tenant": tenant,
    }
    signature = base64.urlsafe_b64encode(secrets.token_bytes(64)).decode().rstrip("=")
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.{signature}"


@attrs.define
class AcrStandIn:
    """The two OAuth2 endpoints; ``refresh_token`` is the one token they issue."""

    arm: LocalArm
    tokens: TokenServer
    refresh_token: str = attrs.field(repr=False)
    tenant: str = TENANT
    url: str = ""
    requests: list[tuple[str, str, str]] = attrs.field(factory=list)
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def record(self, method: str, path: str, grant: str) -> None:
        with self.lock:
            self.requests.append((method, path, grant))

    def grants(self) -> list[str]:
        """The grant types asked for, in order (``basic`` for a GET with basic auth)."""
        with self.lock:
            return [grant for _, _, grant in self.requests]


@attrs.frozen
class LocalAcr:
    """A running stand-in: ``registry`` (the data plane) and ``oauth`` (its token side)."""

    registry: LocalRegistry
    oauth: AcrStandIn


def require_registry_binary() -> None:
    """Refuse, naming what to install, when Distribution's ``docker-registry`` is missing."""
    if shutil.which("docker-registry") is None:
        raise PluginError(
            "the ACR stand-in needs the Distribution registry (docker-registry), which is not "
            "on the PATH",
            hint=f"Install Debian's {REGISTRY_PACKAGE} package (apt-get install -y "
            f"{REGISTRY_PACKAGE}; .ci/install-build-tools.sh installs it), which provides "
            "/usr/bin/docker-registry.",
        )


@contextmanager
def run_acr(
    directory: Path,
    arm: LocalArm,
    *,
    refresh_seconds: int = 3 * 3600,
    tenant: str = TENANT,
) -> Iterator[LocalAcr]:
    """Start the token service, the OAuth2 stand-in and the registry; stop them at the end.
    ``refresh_seconds``: the life the refresh token's ``exp`` claims; ``tenant``: the one
    tenant whose Entra tokens the exchange takes."""
    require_registry_binary()
    directory.mkdir(parents=True, exist_ok=True)
    refresh = refresh_token_like_acr(tenant, refresh_seconds)
    with serve_tokens(directory, NULL_USER, refresh) as tokens:
        oauth = AcrStandIn(arm=arm, tokens=tokens, refresh_token=refresh, tenant=tenant)
        handler = type("Handler", (_Handler,), {"acr": oauth})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        oauth.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        realm = TokenServer(realm=f"{oauth.url}/oauth2/token", certificate=tokens.certificate)
        try:
            with run_registry(directory / "registry", token=realm) as registry:
                yield LocalAcr(registry=registry, oauth=oauth)
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


class _Handler(BaseHTTPRequestHandler):
    acr: AcrStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _unauthorized(self, message: str) -> None:
        self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})

    def _form(self) -> list[tuple[str, str]]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        return urllib.parse.parse_qsl(raw)

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        pairs = self._form()
        form = dict(pairs)
        self.acr.record("POST", path, form.get("grant_type", ""))
        if path == "/oauth2/exchange":
            self._exchange(form)
        elif path == "/oauth2/token":
            if form.get("grant_type") != "refresh_token":
                self._reply(400, {"errors": [{"code": "UNSUPPORTED", "message": "grant_type"}]})
                return
            scopes = [value for key, value in pairs if key == "scope"]
            self._access(form.get("refresh_token", ""), form.get("service", ""), scopes)
        else:
            self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": path}]})

    def do_GET(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        self.acr.record("GET", split.path, "basic")
        if split.path != "/oauth2/token":
            self._reply(404, {"errors": [{"code": "NOT_FOUND", "message": split.path}]})
            return
        header = self.headers.get("Authorization", "")
        given = base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else ":"
        user, _, password = given.partition(":")
        query = urllib.parse.parse_qsl(split.query)
        service = dict(query).get("service", "")
        if user != NULL_USER:
            self._unauthorized("authentication required, visit https://aka.ms/acr/authorization")
            return
        self._access(password, service, [value for key, value in query if key == "scope"])

    def _exchange(self, form: dict[str, str]) -> None:
        acr = self.acr
        if form.get("grant_type") != "access_token":
            self._reply(400, {"errors": [{"code": "UNSUPPORTED", "message": "grant_type"}]})
            return
        if form.get("service") != SERVICE or form.get("tenant") != acr.tenant:
            self._unauthorized(f"the token is not for service {SERVICE} of tenant {acr.tenant}")
            return
        if not acr.arm.token_valid(f"Bearer {form.get('access_token', '')}"):
            self._unauthorized("The AAD access token is invalid or expired.")
            return
        self._reply(200, {"refresh_token": acr.refresh_token})

    def _access(self, refresh: str, service: str, scopes: list[str]) -> None:
        acr = self.acr
        if service != SERVICE or not secrets.compare_digest(refresh, acr.refresh_token):
            self._unauthorized("authentication required, visit https://aka.ms/acr/authorization")
            return
        query = urllib.parse.urlencode([("service", SERVICE), *(("scope", s) for s in scopes)])
        basic = base64.b64encode(f"{NULL_USER}:{refresh}".encode()).decode()
        # The realm is the local token service's http://127.0.0.1 URL, never a job's.
        request = urllib.request.Request(  # noqa: S310
            f"{acr.tokens.realm}?{query}", headers={"Authorization": f"Basic {basic}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            token = json.loads(answer.read())["token"]
        self._reply(200, {"access_token": token})
