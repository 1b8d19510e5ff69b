"""ACR's token exchange: a Microsoft Entra token becomes an ACR refresh token
(``POST /oauth2/exchange``), and a refresh token an access token for one repository scope
(``POST /oauth2/token``, the Distribution token flow).

Where they answer is learnt as ``az acr login`` learns it: the registry's ``GET /v2/``
challenge (``Bearer realm="https://<login server>/oauth2/token",service="<login server>"``)
names the token endpoint and the service, and the exchange is ``/oauth2/exchange`` on the
realm's host.

The refresh token (about three hours) is the password of ACR's null user
``00000000-0000-0000-0000-000000000000`` for Docker clients. It is a secret: held in memory
only, sent in request bodies (never in a URL), kept out of every error message (each passes a
redactor of the tokens held), and renewed when less than :data:`RENEW_BEFORE` seconds of its
life remain.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from qengine.plugin import AuthError, InfrastructureError, TransientError
from qengine.secrets.redaction import Redactor

#: The user name a Docker client logs in with, the refresh token being its password.
NULL_USER = "00000000-0000-0000-0000-000000000000"
#: A refresh token's life when its own ``exp`` cannot be read (ACR's is about three hours).
REFRESH_LIFE = 3 * 3600.0
#: A refresh token with less life than this left is renewed (a build can take this long).
RENEW_BEFORE = 45 * 60.0
_PARAM = re.compile(r'(\w+)="([^"]*)"')
ROLE_HINT = (
    "Give the identity AcrPush on the registry (AcrPull is enough to pull only; AcrDelete to "
    "delete images); a new role assignment takes a few minutes to apply. Check that tenant_id "
    "is the registry's tenant."
)


@attrs.frozen(kw_only=True)
class Reply:
    """A finished request: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen(kw_only=True)
class Challenge:
    """The registry's token endpoint (``realm``) and ``service``, from its ``/v2/`` answer."""

    realm: str
    service: str

    @property
    def exchange(self) -> str:
        """``/oauth2/exchange`` on the realm's host."""
        parts = urllib.parse.urlsplit(self.realm)
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/oauth2/exchange", "", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as it is: a bearer token never follows one to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Http:
    """Requests to one registry's host (its CA, if it has its own), never raising on an HTTP
    status; an unreachable host is a TransientError."""

    def __init__(self, ca_file: Path | None, timeout: float = 30.0) -> None:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        handlers = [_NoRedirect(), urllib.request.HTTPSHandler(context=context)]
        self._opener = urllib.request.build_opener(*handlers)
        self._timeout = timeout

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> Reply:
        """``method url``; ``form`` goes as an url-encoded body."""
        if not url.startswith(("https://", "http://")):
            raise InfrastructureError(f"not an http(s) URL: {url!r}")
        sent = dict(headers or {})
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(url, data=data, headers=sent, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                return _reply(answer.status, answer.headers.items(), answer.read())
        except urllib.error.HTTPError as exc:
            return _reply(exc.code, exc.headers.items(), exc.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            host = urllib.parse.urlsplit(url).netloc
            if isinstance(reason, ssl.SSLError):
                raise InfrastructureError(f"TLS with {host} failed: {reason}") from exc
            raise TransientError(
                f"{host} is unreachable: {reason}",
                hint="Check the registry's name and that this machine can reach it.",
            ) from exc


class AcrTokens:
    """The tokens of one registry (base URL ``url``) for one identity. Thread-safe; sends
    nothing until a token is asked for.

    ``entra_token``: a current Entra access token for Resource Manager's scope; ``who``:
    names the identity in messages (never a secret).
    """

    def __init__(
        self,
        url: str,
        *,
        tenant_id: str,
        who: str,
        entra_token: Callable[[], str],
        http: Http,
    ) -> None:
        self.url = url.rstrip("/")
        self._tenant, self._who = tenant_id, who
        self._entra_token = entra_token
        self.http = http
        self._lock = threading.RLock()  # an exchange's error message is redacted under it
        self._challenge: Challenge | None = None
        self._refresh: tuple[str, float] | None = None
        self._held: list[str] = []
        self._redactor = Redactor(())

    def challenge(self) -> Challenge:
        """The registry's token realm and service (asked once)."""
        with self._lock:
            if self._challenge is None:
                self._challenge = self._ask_challenge()
            return self._challenge

    def refresh_token(self) -> str:
        """A refresh token with at least :data:`RENEW_BEFORE` seconds of life left."""
        return self.refresh_token_expiring()[0]

    def refresh_token_expiring(self) -> tuple[str, float]:
        """A refresh token as :meth:`refresh_token` gives it, and when it expires (epoch
        seconds, from its ``exp``)."""
        challenge = self.challenge()
        with self._lock:
            if self._refresh is None or self._refresh[1] - time.time() < RENEW_BEFORE:
                token = self._exchange(challenge)
                self._hold(token)
                self._refresh = (token, _expiry(token))
            return self._refresh

    def access_token(self, scope: str) -> str:
        """An access token for ``scope`` (``repository:<name>:pull``...)."""
        refresh = self.refresh_token()
        challenge = self.challenge()
        form = {
            "grant_type": "refresh_token",
            "service": challenge.service,
            "scope": scope,
            "refresh_token": refresh,
        }
        reply = self.http.send("POST", challenge.realm, form=form)
        document = self._answer(reply, f"an access token of {self._who} for {scope}")
        token = document.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"ACR {self.url} answered no access token for {scope}")
        with self._lock:
            self._hold(token)
        return token

    def redact(self, text: str) -> str:
        """``text`` with every token this object holds masked."""
        with self._lock:
            return self._redactor.redact(text)

    def _ask_challenge(self) -> Challenge:
        reply = self.http.send("GET", f"{self.url}/v2/")
        header = reply.headers.get("www-authenticate", "")
        params = dict(_PARAM.findall(header))
        if reply.status != 401 or not header.lower().startswith("bearer") or "realm" not in params:
            raise InfrastructureError(
                f"{self.url} is not an Azure Container Registry: its /v2/ answered "
                f"{reply.status} without a Bearer challenge",
                hint="Check the registry's name and login_server.",
            )
        return Challenge(realm=params["realm"], service=params.get("service", ""))

    def _exchange(self, challenge: Challenge) -> str:
        form = {
            "grant_type": "access_token",
            "service": challenge.service,
            "tenant": self._tenant,
            "access_token": self._entra_token(),
        }
        reply = self.http.send("POST", challenge.exchange, form=form)
        document = self._answer(reply, f"exchanging the Entra token of {self._who}")
        token = document.get("refresh_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"ACR {self.url} answered the exchange with no refresh token")
        return token

    def _answer(self, reply: Reply, doing: str) -> dict[str, object]:
        """The JSON body of a 200, or the error its status means."""
        if reply.status == 200:
            try:
                document = json.loads(reply.body)
            except ValueError:
                document = None
            if isinstance(document, dict):
                return document
            raise InfrastructureError(f"ACR {self.url}: {doing}: the answer is not JSON")
        detail = self.redact(_error_detail(reply.body))
        message = f"ACR {self.url} refused {doing} ({reply.status}{detail})"
        if reply.status in (401, 403):
            raise AuthError(message, hint=ROLE_HINT)
        if reply.status == 429 or reply.status >= 500:
            retry = reply.headers.get("retry-after", "")
            raise TransientError(message, retry_after=float(retry) if retry.isdigit() else None)
        raise InfrastructureError(message)

    def _hold(self, token: str) -> None:
        """Add ``token`` to what messages are redacted of (caller holds the lock)."""
        self._held = [*self._held[-15:], token]
        self._redactor = Redactor(self._held)


def _reply(status: int, headers: object, body: bytes) -> Reply:
    pairs = list(headers)  # type: ignore[call-overload]
    return Reply(status=status, headers={str(k).lower(): str(v) for k, v in pairs}, body=body)


def _error_detail(body: bytes) -> str:
    """``: CODE: message`` from ACR's ``{"errors": [...]}`` or an OAuth ``error`` body."""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return f": {first.get('code', '')}: {first.get('message', '')}"
    if "error" in document:
        return f": {document.get('error')}: {document.get('error_description', '')}"
    return ""


def _expiry(token: str) -> float:
    """When ``token`` (a JWT) expires, from its ``exp``; else :data:`REFRESH_LIFE` from now."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return time.time() + REFRESH_LIFE
