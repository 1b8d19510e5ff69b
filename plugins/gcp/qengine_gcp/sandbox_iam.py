"""A local stand-in of Google's STS and IAM Credentials, the calls google-auth makes for a
job's short-lived credentials, with the shapes of the APIs' references:

- STS ``POST /v1/token`` (RFC 8693 token exchange, form-encoded): ``access_token``,
  ``issued_token_type``, ``token_type``, ``expires_in``; an unknown subject token is
  ``400 {"error": "invalid_grant", "error_description": ...}``;
- IAM Credentials ``POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`` (JSON
  ``delegates``, ``scope``, ``lifetime``): ``accessToken`` and ``expireTime`` (RFC 3339,
  UTC); a caller without the right is ``403`` with a ``PERMISSION_DENIED`` error body.

No emulator of either exists. Issued tokens are kept with their expiry: the other stand-ins
accept a token when :meth:`LocalIamCredentials.valid` says this service issued it and it has
not expired. In the sandbox the caller's own credential (the host's, there) is the sandbox
token (``source_tokens``), and any service account may be impersonated (``account`` None).
"""

from __future__ import annotations

import datetime
import itertools
import json
import threading
import urllib.parse
from collections.abc import Collection
from typing import Any

from qengine_gcp.sandbox_http import JsonStandIn, Reply, google_error


class LocalIamCredentials(JsonStandIn):
    """STS and IAM Credentials on one local HTTP server; use it as a context manager.

    ``subject_token``: the one external token STS accepts (None: STS refuses every one);
    ``account``: the one service account that may be impersonated (None: any);
    ``source_tokens``: callers' own tokens IAM Credentials accepts besides those issued here.
    """

    def __init__(
        self,
        *,
        subject_token: str | None = None,
        account: str | None = None,
        source_tokens: Collection[str] = (),
    ) -> None:
        super().__init__()
        self.subject_token = subject_token
        self.account = account
        self.source_tokens = frozenset(source_tokens)
        self.issued: dict[str, datetime.datetime] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._numbers = itertools.count(1)
        self._guard = threading.Lock()

    def valid(self, authorization: str | None) -> bool:
        """Whether ``authorization`` is ``Bearer <a token issued here, not expired>``."""
        token = (authorization or "").removeprefix("Bearer ")
        with self._guard:
            expiry = self.issued.get(token)
        return expiry is not None and datetime.datetime.now(datetime.UTC) < expiry

    def _issue(self, prefix: str, seconds: float) -> tuple[str, datetime.datetime]:
        import secrets

        token = f"{prefix}-{next(self._numbers)}-{secrets.token_urlsafe(24)}"
        expiry = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
        with self._guard:
            self.issued[token] = expiry
        return token, expiry

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        if method == "POST" and path == "/v1/token":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            self.calls.append(("sts", form))
            return self._exchange(form)
        prefix = "/v1/projects/-/serviceAccounts/"
        if method == "POST" and path.startswith(prefix) and path.endswith(":generateAccessToken"):
            account = urllib.parse.unquote(path[len(prefix) : -len(":generateAccessToken")])
            request = json.loads(body or b"{}")
            self.calls.append(("iam", {"account": account, **request}))
            return self._generate(account, request, headers.get("Authorization"))
        return google_error(404, "NOT_FOUND", "Not Found")

    def _exchange(self, form: dict[str, str]) -> Reply:
        grant = "urn:ietf:params:oauth:grant-type:token-exchange"
        subject = form.get("subject_token")
        if (
            form.get("grant_type") != grant
            or self.subject_token is None
            or (subject != self.subject_token)
        ):
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

    def _generate(self, account: str, request: dict[str, Any], authorization: str | None) -> Reply:
        caller = (authorization or "").removeprefix("Bearer ")
        allowed = self.valid(authorization) or caller in self.source_tokens
        if (self.account is not None and account != self.account) or not allowed:
            return google_error(
                403,
                "PERMISSION_DENIED",
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may "
                "not exist).",
            )
        seconds = float(str(request.get("lifetime", "3600s")).removesuffix("s"))
        token, expiry = self._issue("ya29.impersonated", seconds)
        return 200, {"accessToken": token, "expireTime": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}
