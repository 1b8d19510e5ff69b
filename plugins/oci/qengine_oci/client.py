"""A small client of the OCI Distribution API over the standard library's urllib.

Authentication follows the registry's challenge: a request goes out bare (or with the header
that worked before for the same scope); on 401 the ``WWW-Authenticate`` header says ``Basic``
(send the user and password) or ``Bearer realm=...,service=...,scope=...`` (get a token from
the realm with the user and password, then send it). The password is revealed only to build
that header, and no header is ever logged or put in an error.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

import attrs

from qengine import AuthError, InfrastructureError, InvalidInputError, TransientError
from qengine.secrets.value import SecretValue

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@attrs.frozen(kw_only=True)
class Response:
    """A finished request: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by :meth:`DistributionClient.request` itself, without the
    Authorization header (blob storage on another host must not receive it)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class DistributionClient:
    """One registry (``base_url``), one set of credentials. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: SecretValue | None = None,
        insecure: bool = False,
        ca_pem: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise InvalidInputError(
                f"the registry URL {base_url!r} is not an http(s) URL",
                hint="Write it like https://registry.example.com.",
            )
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._timeout = timeout
        self._headers: dict[str, str] = {}  # scope -> Authorization header that worked
        self._lock = threading.Lock()
        self.requests = 0  # how many HTTP requests were sent (for benchmarks and tests)
        context = ssl.create_default_context(cadata=ca_pem) if ca_pem else None
        if insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send ``method path``, answering one auth challenge; raise on 401/403 after it,
        TransientError on 429/5xx and unreachable servers. Other statuses are returned."""
        url = self.base_url + path
        sent = dict(headers or {})
        with self._lock:
            known = self._headers.get(scope)
        if known:
            sent["Authorization"] = known
        response = self._send(method, url, sent, body)
        if response.status == 401:
            header = self._answer(response.headers.get("www-authenticate", ""), scope)
            sent["Authorization"] = header
            response = self._send(method, url, sent, body)
            if response.status not in (401, 403):
                with self._lock:
                    self._headers[scope] = header
        if response.status in (401, 403):
            raise AuthError(
                f"the registry {self.base_url} refused the credentials ({response.status}) "
                f"for {method} {path.split('?')[0]}",
                hint="Check the registry username and password secret, and that the user may "
                "push and pull this repository.",
            )
        return response

    def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        for _hop in range(5):
            response = self._once(method, url, headers, body)
            location = response.headers.get("location")
            if (
                response.status in (301, 302, 303, 307, 308)
                and location
                and method in ("GET", "HEAD")
            ):
                target = urllib.parse.urljoin(url, location)
                if urllib.parse.urlsplit(target).netloc != urllib.parse.urlsplit(url).netloc:
                    headers = {k: v for k, v in headers.items() if k != "Authorization"}
                url = target
                continue
            return response
        raise InfrastructureError(f"the registry {self.base_url} redirected too many times")

    def _once(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Response:
        with self._lock:
            self.requests += 1
        # Only http(s) URLs get here: the base URL is checked in __init__, realms in _token.
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as reply:
                return _response(reply.status, reply.headers.items(), reply.read())
        except urllib.error.HTTPError as exc:
            answer = _response(exc.code, exc.headers.items(), exc.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ssl.SSLError):
                raise InfrastructureError(
                    f"TLS with the registry {self.base_url} failed: {reason}",
                    hint="Give the registry's CA as ca_certificate, or set insecure: true "
                    "for a registry on a trusted network.",
                ) from exc
            raise TransientError(
                f"the registry {self.base_url} is unreachable: {reason}",
                hint="Check the registry URL and that this machine can reach it.",
            ) from exc
        if answer.status == 429 or answer.status >= 500:
            retry = answer.headers.get("retry-after", "")
            raise TransientError(
                f"the registry {self.base_url} answered {answer.status}",
                retry_after=float(retry) if retry.isdigit() else None,
            )
        return answer

    def _answer(self, challenge: str, scope: str) -> str:
        """The Authorization header answering ``challenge``."""
        if self._username is None or self._password is None:
            raise AuthError(
                f"the registry {self.base_url} asks for credentials and the job gives none",
                hint="Set username and password (a secret reference) in the registry section.",
            )
        basic = (
            "Basic "
            + base64.b64encode(f"{self._username}:{self._password.reveal()}".encode()).decode()
        )
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            return basic
        if scheme != "bearer":
            raise AuthError(
                f"the registry {self.base_url} asks for an unsupported authentication "
                f"scheme {scheme or '(none)'!r}",
                hint="qengine supports Basic and Bearer token registry authentication.",
            )
        return "Bearer " + self._token(dict(_CHALLENGE_PARAM.findall(challenge)), scope, basic)

    def _token(self, params: dict[str, str], scope: str, basic: str) -> str:
        realm = params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise AuthError(f"the registry {self.base_url} gave no usable token realm")
        query = {"service": params.get("service", ""), "scope": params.get("scope") or scope}
        if self._username:
            query["account"] = self._username
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        reply = self._once("GET", url, {"Authorization": basic}, None)
        if reply.status != 200:
            raise AuthError(
                f"the registry's token service refused the credentials ({reply.status})",
                hint="Check the registry username and password secret.",
            )
        document = reply.json()
        token = (
            document.get("token") or document.get("access_token")
            if isinstance(document, dict)
            else None
        )
        if not isinstance(token, str) or not token:
            raise AuthError("the registry's token service returned no token")
        return token


def _response(status: int, headers: object, body: bytes) -> Response:
    pairs = headers if isinstance(headers, list) else list(headers)  # type: ignore[call-overload]
    return Response(status=status, headers={k.lower(): v for k, v in pairs}, body=body)
