"""The connection to one cluster: where its API is, how its certificate is checked, who the
engine is to it, and the HTTPS pool that carries every request of a job.

A :class:`Connection` is made from the job's target by :mod:`qengine_kubernetes.access`:

* a kubeconfig whose user holds a token, a token file, a client certificate or a user name
  and password (what clusters, CI systems and service-account kubeconfigs hand out) is read
  here, with the field names and meanings ``kubectl`` gives them (relative file names are
  relative to the kubeconfig's directory; ``tokenFile`` is re-read when it changes);
* a kubeconfig whose user runs an ``exec`` credential plugin or names a legacy
  ``auth-provider`` is read by the official ``kubernetes`` library's loader, which runs the
  plugin, caches what it returns and runs it again when it expires: the connection asks the
  library for the current credential before each request. The library (and what its loader
  imports: requests, oauthlib, google-auth, pydantic, about a third of a run's start) is
  imported only then;
* in a pod, the service account's token (re-read when the kubelet rotates it) and CA;
* the sandbox's or an add-on step's endpoint, CA and token, given directly.

The transport is urllib3, as under the official client: one pool per job, TLS verified
against the cluster's CA, the client certificate loaded from memory (a memory file, never a
file on disk), proxies from the kubeconfig's ``proxy-url`` or the host's ``HTTPS_PROXY`` and
``NO_PROXY``, read once. No request is retried here: :class:`~qengine_kubernetes.client.KubeApi`
owns the one retry policy.
"""

from __future__ import annotations

import base64
import contextlib
import os
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs

from qengine.plugin import AuthError, InvalidInputError

USER_AGENT = "qengine-kubernetes"
POOL_SIZE = 32
"""Connections kept open to the cluster: the job's parallel steps, their watches and the
parallel lists of a no-op check share them (more are opened when needed, not kept)."""

Authorization = Callable[[], "str | None"]
"""The ``Authorization`` header of the next request (None: none), asked before each one."""


@attrs.frozen
class Connection:
    """How to reach one cluster's API and who to be there."""

    server: str
    """``https://host[:port]``, without a trailing slash."""
    ca_pem: bytes | None = attrs.field(default=None, repr=False)
    """The CA bundle the server's certificate must chain to (None: the system's)."""
    verify: bool = True
    """False only when the kubeconfig says ``insecure-skip-tls-verify``."""
    tls_server_name: str | None = None
    """The name the server's certificate is checked against, when not the server's host."""
    client_cert: tuple[bytes, bytes] | None = attrs.field(default=None, repr=False)
    """A client certificate and its key (PEM), for clusters that authenticate by certificate."""
    authorization: Authorization = attrs.field(default=lambda: None, repr=False)
    proxy: str | None = None
    """An HTTP(S) proxy URL (``proxy-url`` of the kubeconfig, else the host's)."""

    def with_bearer(self, token: str) -> Connection:
        """This connection as the holder of ``token``."""
        return attrs.evolve(self, authorization=bearer(token))

    def bearer_token(self) -> str | None:
        """The current bearer token (for a kubeconfig written for helm), None when the
        connection authenticates otherwise."""
        header = self.authorization()
        if header is not None and header[:7].lower() == "bearer ":
            return header[7:]
        return None

    def basic_credentials(self) -> tuple[str, str] | None:
        """The user name and password of basic authentication, when that is how it
        authenticates."""
        header = self.authorization()
        if header is None or header[:6].lower() != "basic ":
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password


def bearer(token: str) -> Authorization:
    """A constant bearer token."""
    header = f"Bearer {token}"
    return lambda: header


class TokenFile:
    """A bearer token read from a file and read again when the file changes (a projected
    service-account token is rotated by the kubelet; a ``tokenFile`` by whatever writes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._header = ""
        self()  # read now: a missing or empty file is refused when the connection is made

    def __call__(self) -> str:
        with self._lock:
            try:
                stat = self.path.stat()
                seen = (stat.st_mtime_ns, stat.st_size)
                if seen == self._seen:
                    return self._header
                token = self.path.read_text().strip()
            except OSError as exc:
                raise AuthError(f"the token file cannot be read: {exc}") from exc
            if not token:
                raise AuthError(f"the token file {self.path} is empty")
            self._header, self._seen = f"Bearer {token}", seen
            return self._header


class Transport:
    """The HTTPS pool of one connection (thread-safe as urllib3's pools are)."""

    def __init__(self, connection: Connection) -> None:
        import urllib3

        self.connection = connection
        parts = urlsplit(connection.server)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise InvalidInputError(f"the cluster's server {connection.server!r} is not a URL")
        options: dict[str, Any] = {
            "maxsize": POOL_SIZE,
            "retries": False,
            "headers": {"User-Agent": USER_AGENT},
        }
        if parts.scheme == "https":
            options["ssl_context"] = _tls_context(connection)
            if not connection.verify:
                options["cert_reqs"] = ssl.CERT_NONE
                options["assert_hostname"] = False
            elif connection.tls_server_name:
                options["server_hostname"] = connection.tls_server_name
                options["assert_hostname"] = connection.tls_server_name
        proxy = connection.proxy or _host_proxy(parts.scheme, parts.hostname)
        self.pool: Any = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 60.0,
        stream: bool = False,
    ) -> Any:
        """Send one request; the urllib3 response (its body unread when ``stream``).

        Raises urllib3's errors and OSError as they come: the caller decides what is
        transient."""
        import urllib3

        url = self.connection.server + path
        if query:
            url += "?" + urlencode(query)
        sent = dict(headers or {})
        authorization = self.connection.authorization()
        if authorization is not None:
            sent["Authorization"] = authorization
        return self.pool.request(
            method,
            url,
            body=body,
            headers=sent,
            timeout=urllib3.Timeout(connect=min(timeout or 30.0, 30.0), read=timeout),
            preload_content=not stream,
            redirect=False,
        )


def _tls_context(connection: Connection) -> ssl.SSLContext:
    if connection.ca_pem:
        try:
            context = ssl.create_default_context(cadata=connection.ca_pem.decode("ascii"))
        except (ssl.SSLError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                f"the cluster's certificate authority is not a PEM certificate ({exc})"
            ) from exc
    else:
        context = ssl.create_default_context()
    if not connection.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if connection.client_cert is not None:
        cert, key = connection.client_cert
        with _memory_file(cert) as cert_path, _memory_file(key) as key_path:
            try:
                context.load_cert_chain(cert_path, key_path)
            except (ssl.SSLError, OSError) as exc:
                raise InvalidInputError(
                    f"the client certificate or key of the kubeconfig cannot be used ({exc})"
                ) from exc
    return context


@contextlib.contextmanager
def _memory_file(content: bytes) -> Iterator[str]:
    """A path to ``content`` for an API that only reads files: a memory file on Linux (never
    written to a disk), else a private temporary file removed at once."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        fd = memfd_create("qengine-tls", 0)
        try:
            os.write(fd, content)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    directory = tempfile.mkdtemp(prefix="qengine-tls-")
    path = os.path.join(directory, "pem")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
        os.rmdir(directory)


def _host_proxy(scheme: str, host: str) -> str | None:
    """The host's proxy for ``scheme`` (``HTTPS_PROXY`` and its kin), unless ``NO_PROXY``
    exempts ``host``: as Kubernetes' own clients do."""
    from urllib.request import getproxies, proxy_bypass

    proxy = getproxies().get(scheme)
    if not proxy or proxy_bypass(host):
        return None
    return proxy
