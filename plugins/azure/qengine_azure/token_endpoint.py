"""A local managed-identity endpoint that hands Terraform the job's Entra tokens, renewed
for as long as the run lasts: Storage tokens to its state backend, Resource Manager (and
Microsoft Graph) tokens to the azurerm provider of a real run.

Terraform's ``azurerm`` backend (1.11, on hashicorp/go-azure-sdk) authenticates to the blob
service with Entra tokens when ``use_azuread_auth`` is on, and with ``use_msi`` it asks a
managed-identity endpoint for them: ``GET <msi_endpoint>?api-version=2018-02-01&resource=
https://storage.azure.com`` with the header ``Metadata: true``, reading ``access_token`` and
``expires_in``. It asks again whenever the token it holds is due (within 20 minutes of its
expiry, or half its life gone), so a run of any length keeps its state access while no token
lives in its environment. The azurerm provider 4.x (``ARM_USE_MSI``, ``ARM_MSI_ENDPOINT``)
asks the same way, through the same library, for ``https://management.azure.com/`` when it
calls Resource Manager, and, when it is configured, for ``https://graph.microsoft.com/``
(it reads its own application and object ids from that token's claims).

One endpoint serves one run: :class:`RunTokenEndpoint` is a context manager that serves
HTTP on 127.0.0.1 (a free port) on its own thread and stops on exit (the server is
:class:`qengine.localendpoint.LocalEndpoint`). The protocol carries no
credential of the caller, so the endpoint answers only under an unguessable path:
``msi_endpoint`` is ``http://127.0.0.1:PORT/<secret>/metadata/identity/oauth2/token``, passed
as ``ARM_MSI_ENDPOINT`` through the driver's masked ``credentials`` (never argv, never the
backend configuration that ``terraform init`` writes to disk). Another path, a request
without ``Metadata: true``, a resource it does not serve or another method is refused;
nothing is logged.

Each answer is the job's current token for the resource's scope from its azure-identity
credential, which caches it and asks Entra again before it expires.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from email.message import Message

from qengine.localendpoint import LocalEndpoint, Reply, same_secret, secret_path
from qengine.plugin import QengineError

#: Azure Storage's resource (the backend names it without a trailing slash).
STORAGE_RESOURCE = "https://storage.azure.com"
_PATH = "metadata/identity/oauth2/token"

#: The current token and its expiry (seconds since the epoch) for a scope.
TokenSource = Callable[[str], tuple[str, int]]


class RunTokenEndpoint(LocalEndpoint):
    """The managed-identity endpoint of one run; use it as a context manager.

    ``source`` gives the job's token for a scope and its expiry; only the ``resources``
    named (Storage's alone by default; compared without a trailing slash) are served, each
    with the scope ``<resource>/.default``. ``served`` counts the tokens handed out, by
    resource in ``served_for``; ``failures`` the kinds of errors the source raised (each
    answered 500, which fails Terraform's request).
    """

    def __init__(
        self,
        source: TokenSource,
        *,
        resources: Iterable[str] = (STORAGE_RESOURCE,),
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(self._reply, name="azure run token endpoint")
        self._source = source
        self._resources = frozenset(resource.rstrip("/") for resource in resources)
        self._now = now
        self._secret = secret_path()
        self.served_for: dict[str, int] = {}
        self.failures: list[str] = []

    @property
    def served(self) -> int:
        """The tokens handed out, for every resource."""
        return sum(self.served_for.values())

    @property
    def url(self) -> str:
        """``msi_endpoint`` of the run (a secret: it names the endpoint's path)."""
        assert self.running, "the endpoint is not started"
        return f"http://127.0.0.1:{self.port}/{self._secret}/{_PATH}"

    def child_credentials(self) -> dict[str, str]:
        """Terraform's secret variables (the driver's ``credentials=``, which masks them)."""
        return {"ARM_MSI_ENDPOINT": self.url}

    def _reply(self, method: str, path: str, headers: Message) -> Reply:
        return Reply(*self._answer(path, headers.get("Metadata")))

    def _answer(self, path: str, metadata: str | None) -> tuple[int, bytes]:
        route, _, query = path.partition("?")
        secret, _, rest = route.lstrip("/").partition("/")
        if not same_secret(secret, self._secret) or rest != _PATH:
            return 404, b'{"error": "not_found"}'
        if metadata != "true":
            return 400, b'{"error": "invalid_request", "error_description": "Metadata: true"}'
        resource = urllib.parse.parse_qs(query).get("resource", [""])[0].rstrip("/")
        if resource not in self._resources:
            return 400, b'{"error": "invalid_resource"}'
        try:
            token, expires_on = self._source(f"{resource}/.default")
        except QengineError as exc:
            self.failures.append(type(exc).__name__)
            return 500, b'{"error": "unavailable"}'
        self.served_for[resource] = self.served_for.get(resource, 0) + 1
        left = max(int(expires_on - self._now()), 0)
        body = {
            "access_token": token,
            "expires_in": str(left),
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
        }
        return 200, json.dumps(body).encode()
