"""A local Azure Blob storage for the sandbox and the tests: Azurite on 127.0.0.1, over HTTPS.

Terraform's ``azurerm`` backend builds the blob URL from the storage account's name and the
cloud's storage suffix, ``https://<account>.blob.<suffix>/``, and the suffix comes from the
cloud's metadata endpoint (``ARM_METADATA_HOSTNAME``). Three local pieces make that reach
Azurite without touching the machine (no ``/etc/hosts`` edit, no resolver change):

- a **metadata host** (HTTPS, 127.0.0.1) answering ``/metadata/endpoints`` with one cloud
  whose ``suffixes.storage`` is :data:`STORAGE_SUFFIX`, a name under the reserved ``.test``
  domain that no resolver answers;
- a **CONNECT proxy** on 127.0.0.1, given to Terraform as ``HTTPS_PROXY``: Go's HTTP client
  sends the host name to the proxy instead of resolving it, and the proxy opens a tunnel to
  Azurite for ``<account>.blob.<suffix>`` and to nothing else. Requests to 127.0.0.1 (the
  metadata host) bypass a proxy in Go by rule, so they go straight;
- **Azurite** (npm, ``scripts/get-azurite.sh``) serving the account over TLS, with a
  certificate for ``*.blob.<suffix>`` signed by a throwaway CA (:mod:`qengine_azure.local_tls`)
  that Terraform trusts through ``SSL_CERT_FILE``. Azurite takes the account from the host name
  (its production-style URLs), so the state lands in the account the job names.

Azurite runs with its OAuth mode on (``--oauth basic``, HTTPS only): besides SAS and Shared
Key it accepts a bearer token shaped as Entra's (a JWT with Storage's audience, an issuer under
``https://sts.windows.net/``, and a lifetime it checks; the signature is not checked). That is
how Terraform's backend reaches the state: Entra tokens from the run's token endpoint
(:mod:`qengine_azure.token_endpoint`), renewed as they expire; the job's lease sends the
job's Storage tokens as well. Only the tests' own Python clients use an account SAS made
with the account's key.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import select
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import ClassVar

from qengine.plugin import PluginError
from qengine_azure.local_tls import LocalTls, make_tls

#: The storage suffix of the local cloud: under ``.test``, which never resolves (RFC 6761).
STORAGE_SUFFIX = "core.qengine.test"
#: The name of the local cloud in the metadata host's answer.
ENVIRONMENT = "qengine-local"
_AZURITE_ENV = "QENGINE_AZURITE"
_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "get-azurite.sh"


def azurite_binary() -> Path:
    """Azurite's blob launcher: ``QENGINE_AZURITE``, else ``azurite-blob`` on the PATH, else
    the one ``scripts/get-azurite.sh`` installs under the checkout's ``.tools/``."""
    given = os.environ.get(_AZURITE_ENV)
    if given:
        return Path(given)
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    installed = _SCRIPT.parents[3] / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
    if installed.exists():
        return installed
    raise PluginError(
        "the Azure sandbox needs Azurite (npm), which is not installed",
        hint=f"Run bash {_SCRIPT} (it installs azurite 3.35 under .tools/), or set "
        f"{_AZURITE_ENV} to an azurite-blob launcher.",
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def metadata_document(suffix: str = STORAGE_SUFFIX) -> dict[str, object]:
    """The local cloud, in the shape of ARM's ``/metadata/endpoints`` (api-version
    2022-09-01) answer for one cloud."""
    return {
        "name": ENVIRONMENT,
        "portal": "https://portal.qengine.test",
        "authentication": {
            "loginEndpoint": "https://login.qengine.test",
            "audiences": ["https://management.qengine.test/"],
            "tenant": "common",
            "identityProvider": "AAD",
        },
        "media": "https://media.qengine.test",
        "graphAudience": "https://graph.qengine.test",
        "graph": "https://graph.qengine.test",
        "microsoftGraphResourceId": "https://graph.qengine.test/",
        "resourceManager": "https://management.qengine.test/",
        "sqlManagement": "https://sql.qengine.test:8443/",
        "gallery": "https://gallery.qengine.test/",
        "suffixes": {
            "acrLoginServer": "azurecr.qengine.test",
            "keyVaultDns": "vault.qengine.test",
            "sqlServerHostname": "database.qengine.test",
            "storage": suffix,
        },
    }


class _MetadataHandler(BaseHTTPRequestHandler):
    document: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/metadata/endpoints":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: object) -> None:
        return


class _TunnelHandler(socketserver.BaseRequestHandler):
    """One CONNECT tunnel, to Azurite only, for ``<account>.blob.<suffix>:443``."""

    server: _TunnelServer

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        target = line[1] if len(line) == 3 and line[0] == "CONNECT" else ""
        host, _, _port = target.rpartition(":")
        if not host.endswith(f".blob.{self.server.suffix}"):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        with socket.create_connection(("127.0.0.1", self.server.upstream_port)) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pump(self.request, upstream)


def _pump(left: socket.socket, right: socket.socket) -> None:
    peers = {left: right, right: left}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 60)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


class _TunnelServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, suffix: str) -> None:
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        self.upstream_port = upstream_port
        self.suffix = suffix


class LocalAzurite:
    """Azurite, its metadata host and its proxy on free ports of 127.0.0.1; stopped on exit.

    ``accounts``: the storage accounts Azurite serves, each with a random key of its own.
    ``tls``: the certificate it serves (it must name ``*.blob.<suffix>``); None: one of its
    own, under a throwaway CA.
    """

    def __init__(
        self,
        accounts: tuple[str, ...],
        *,
        start_timeout: float = 30.0,
        tls: LocalTls | None = None,
    ) -> None:
        self.accounts = accounts
        self.suffix = STORAGE_SUFFIX
        self.port = _free_port()
        self.keys = {name: base64.b64encode(secrets.token_bytes(64)).decode() for name in accounts}
        self._timeout = start_timeout
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._servers: list[socketserver.BaseServer] = []
        self.tls: LocalTls | None = None
        self._given_tls = tls
        self.metadata_port = 0
        self.proxy_port = 0

    # -- what clients are given --------------------------------------------------------

    @property
    def metadata_host(self) -> str:
        """``ARM_METADATA_HOSTNAME``: where the local cloud's endpoints are described."""
        return f"127.0.0.1:{self.metadata_port}"

    @property
    def proxy_url(self) -> str:
        """``HTTPS_PROXY`` for Terraform: the tunnel to Azurite."""
        return f"http://127.0.0.1:{self.proxy_port}"

    @property
    def ca_file(self) -> Path:
        """The CA bundle every client trusts for the stand-ins."""
        assert self.tls is not None, "not started"
        return self.tls.ca

    def account_url(self, account: str) -> str:
        """The blob endpoint of ``account`` for Python clients (path-style, straight to
        Azurite: no proxy or name resolution needed)."""
        return f"https://127.0.0.1:{self.port}/{account}"

    def account_sas(self, account: str, *, hours: float = 2.0) -> str:
        """An account SAS for ``account`` (service blob; container and object; read, write,
        delete, list, add, create): what the tests' Python clients and the sandbox's job lease
        use."""
        import datetime

        from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas

        return generate_account_sas(
            account,
            self.keys[account],
            ResourceTypes(service=True, container=True, object=True),
            AccountSasPermissions(
                read=True, write=True, delete=True, list=True, add=True, create=True
            ),
            expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours),
        )

    def create_container(self, account: str, container: str) -> None:
        """Make ``container`` in ``account`` (what ARM's container PUT does on Azure)."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        if account not in self.keys:
            raise PluginError(
                f"the sandbox's Azurite serves the storage accounts {', '.join(self.keys)}, "
                f"not {account}",
                hint="Run jobs naming another state account in a sandbox run of their own.",
            )
        client = BlobServiceClient(
            self.account_url(account),
            credential={"account_name": account, "account_key": self.keys[account]},
            connection_verify=str(self.ca_file),
        )
        with contextlib.suppress(ResourceExistsError):
            client.create_container(container)

    def terraform_environment(self) -> dict[str, str]:
        """What Terraform's process needs to reach the stand-ins (no secret in it)."""
        return {
            "ARM_METADATA_HOSTNAME": self.metadata_host,
            "ARM_ENVIRONMENT": ENVIRONMENT,
            "SSL_CERT_FILE": str(self.ca_file),
            "HTTPS_PROXY": self.proxy_url,
            "NO_PROXY": "127.0.0.1,localhost",
        }

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> LocalAzurite:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _start(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="qengine-azurite-")
        root = Path(self._dir.name)
        self.tls = self._given_tls or make_tls(
            root / "tls", (f"*.blob.{self.suffix}", f"blob.{self.suffix}")
        )
        binary = azurite_binary()
        args = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(self.port)]
        args += ["--cert", str(self.tls.cert), "--key", str(self.tls.key)]
        args += ["--location", str(root / "data"), "--disableTelemetry", "--silent", "--loose"]
        args += ["--skipApiVersionCheck", "--oauth", "basic"]
        accounts = ";".join(f"{name}:{key}" for name, key in self.keys.items())
        env = {"PATH": os.environ.get("PATH", ""), "AZURITE_ACCOUNTS": accounts}
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=root,
        )
        self._serve_metadata()
        tunnel = _TunnelServer(self.port, self.suffix)
        self.proxy_port = tunnel.server_address[1]
        self._background(tunnel)
        self._wait_ready()

    def _serve_metadata(self) -> None:
        assert self.tls is not None
        document = json.dumps(metadata_document(self.suffix)).encode()
        handler = type("Metadata", (_MetadataHandler,), {"document": document})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self.metadata_port = server.server_address[1]
        self._background(server)

    def _background(self, server: socketserver.BaseServer) -> None:
        self._servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop Azurite and the local servers; the accounts' data goes with them."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers.clear()
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stderr is not None:
                process.stderr.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _wait_ready(self) -> None:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise PluginError(f"Azurite exited at start ({self._process.returncode}): {error}")
            try:
                with (
                    socket.create_connection(("127.0.0.1", self.port), timeout=2) as raw,
                    context.wrap_socket(raw, server_hostname="127.0.0.1"),
                ):
                    return
            except OSError:
                time.sleep(0.1)
        raise PluginError(f"Azurite did not answer within {self._timeout:.0f} s")
