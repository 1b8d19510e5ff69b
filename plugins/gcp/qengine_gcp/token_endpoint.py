"""A local metadata endpoint that hands a job's current access token to its Terraform process.

Google's Go libraries (Terraform's ``gcs`` backend and the google provider) look for
Application Default Credentials and, when none is configured, ask the Compute Engine metadata
server for a token: ``GET http://$GCE_METADATA_HOST/computeMetadata/v1/instance/
service-accounts/default/token`` with the header ``Metadata-Flavor: Google``, reading
``access_token`` and ``expires_in``, and asking again shortly before that expiry. So a
Terraform process pointed at this endpoint never holds a token in its environment, and gets
the job's renewed token for as long as it runs, however long that is.

One endpoint serves one run: :class:`TokenEndpoint` is a context manager that starts an HTTP
server on 127.0.0.1 (a free port), on its own thread, and stops it on exit (the server is
:class:`qengine.localendpoint.LocalEndpoint`). The metadata
protocol has no authorization header, so the endpoint answers only under an unguessable path
prefix: ``GCE_METADATA_HOST`` is ``127.0.0.1:PORT/<prefix>`` (the Go client builds its URLs
as ``http://`` + that host + ``/computeMetadata/v1/...``), passed to the driver as a
credential (masked, never argv). The driver gives Terraform no other credential source: its
environment is explicit and its HOME is the workspace, so no credentials file is found before
the metadata server is asked. Any other path, a request without ``Metadata-Flavor``, or
another method is refused; nothing is logged.

Every answer is fresh from the job's credentials (:meth:`GcpAccess.token_and_expiry`, which
renews a token with less than five minutes left). ``expires_in`` is the token's own, but
never more than ``lease_seconds``, so a child comes back even for a token that never expires.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from email.message import Message

from qengine.localendpoint import LocalEndpoint, Reply, same_secret, secret_path
from qengine.plugin import QengineError, SecretValue

TokenSource = Callable[[], tuple[SecretValue, datetime | None]]
_TOKEN_PATH = "computeMetadata/v1/instance/service-accounts/default/token"  # noqa: S105
_PROJECT = "computeMetadata/v1/project/project-id"
_EMAIL = "computeMetadata/v1/instance/service-accounts/default/email"


class TokenEndpoint(LocalEndpoint):
    """The metadata endpoint of one run; use it as a context manager.

    ``source`` gives the current token and its expiry (None: unknown); ``project`` and
    ``email`` answer the metadata paths the Go libraries read besides the token.
    ``now`` is the clock (tests).
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        project: str,
        email: str,
        lease_seconds: float = 900.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(self._reply, name="gcp token endpoint")
        self._source = source
        self._lease = lease_seconds
        self._now = now or (lambda: datetime.now().astimezone())
        self._prefix = secret_path()
        self._texts = {_PROJECT: project, _EMAIL: email}
        self.requests = 0
        self.failures: list[str] = []

    @property
    def host(self) -> str:
        """``GCE_METADATA_HOST`` of the child: ``127.0.0.1:PORT/<prefix>`` (a secret)."""
        assert self.running, "the endpoint is not started"
        return f"127.0.0.1:{self.port}/{self._prefix}"

    def child_credentials(self) -> dict[str, str]:
        """The child's secret variables (the driver's ``credentials=``, which masks them)."""
        return {"GCE_METADATA_HOST": self.host}

    def _reply(self, method: str, path: str, headers: Message) -> Reply:
        status, body, kind = self._answer(path, headers.get("Metadata-Flavor"))
        return Reply(status, body, kind, {"Metadata-Flavor": "Google"})

    def _answer(self, path: str, flavor: str | None) -> tuple[int, bytes, str]:
        route = path.split("?", 1)[0].lstrip("/")
        prefix, _, rest = route.partition("/")
        if not same_secret(prefix, self._prefix) or flavor != "Google":
            return 404, b"", "text/plain"
        self.requests += 1
        if rest in self._texts:
            return 200, self._texts[rest].encode(), "application/text"
        if rest != _TOKEN_PATH:
            return 404, b"", "text/plain"
        try:
            token, expiry = self._source()
        except QengineError as exc:
            # The child sees a server error and fails its request; the run's step reports it.
            self.failures.append(type(exc).__name__)
            return 500, b"", "text/plain"
        left = self._lease
        if expiry is not None:
            left = min(left, max((expiry - self._now()).total_seconds(), 0.0))
        body = {"access_token": token.reveal(), "expires_in": int(left), "token_type": "Bearer"}
        return 200, json.dumps(body).encode(), "application/json"
