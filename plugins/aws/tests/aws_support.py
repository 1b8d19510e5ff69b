"""Constants and helpers shared by the AWS plugin's tests (imported as ``aws_support``)."""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
from qengine_aws.settings import AwsSettings

from qengine import load_plugins
from qengine.plugin import JobSecrets, JobServices
from qengine.secrets.value import SecretValue
from qengine.testing.tcp_relay import TcpRelay

#: moto's fixed account id.
ACCOUNT = "123456789012"
FAKE_KEY_ID = "AKIAQENGINETEST00001"
FAKE_SECRET = "qengine-test-secret-access-key-00000000001"
REGION = "eu-west-3"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def secrets_of(values: dict[str, str]) -> Callable[[str], SecretValue]:
    """A secret opener over ``values`` (what ``services.secrets.open`` is to a step)."""

    def open_secret(name: str) -> SecretValue:
        return SecretValue(values[name])

    return open_secret


def job_services(settings: AwsSettings) -> JobServices:
    """The services of the example AWS job without its role (so its AWS identity is the
    settings' base credential alone) and without secrets, with ``settings`` as the plugin's."""
    document = json.loads(EXAMPLE.read_text())
    provider = document["cluster"]["provider"]
    del provider["role_arn"], provider["external_id"]
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    return JobServices(
        job=plugins.loader.load(document),
        secrets=JobSecrets(None),
        registry=plugins.registry,
        settings={"aws": settings},
    )


def client(settings: AwsSettings, service: str) -> Any:
    """A boto3 client at the settings' endpoint with fake credentials passed explicitly."""
    import boto3

    return boto3.session.Session().client(
        service,
        region_name=REGION,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=FAKE_KEY_ID,
        aws_secret_access_key=FAKE_SECRET,
    )


def reset_auth(endpoint: str, count: str) -> str:
    """Let moto serve ``count`` more requests unchecked (``"0"``: check every request's
    signature against IAM); the previous count, to restore afterwards."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=count.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        previous: str = json.loads(response.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]
    return previous


@attrs.frozen(kw_only=True)
class SignedRequest:
    """One request that passed through a :class:`SigningRecorder`."""

    at: float
    method: str
    path: str
    target: str
    access_key_id: str


class SigningRecorder:
    """A forwarding HTTP proxy to moto that records which access key signed each request.

    Point a client's endpoint at ``url``; requests and answers pass through unchanged.
    ``target`` is the ``X-Amz-Target`` header (DynamoDB's operation), ``access_key_id`` the
    key named in the SigV4 ``Authorization`` header. A context manager (127.0.0.1, port 0).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.requests: list[SignedRequest] = []
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _forwarder(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SigningRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def record(self, request: SignedRequest) -> None:
        with self._lock:
            self.requests.append(request)


_KEY_ID = re.compile(r"Credential=([^/]+)/")


def _forwarder(recorder: SigningRecorder) -> type[http.server.BaseHTTPRequestHandler]:
    class Forward(http.server.BaseHTTPRequestHandler):
        # One request per connection: a client never reuses a connection the proxy is closing
        # (which it would answer by sending a request, such as the lock's PutItem, twice).

        def _forward(self) -> None:
            body = self._body()
            found = _KEY_ID.search(self.headers.get("Authorization", ""))
            recorder.record(
                SignedRequest(
                    at=time.time(),
                    method=self.command,
                    path=self.path,
                    target=self.headers.get("X-Amz-Target", ""),
                    access_key_id=found.group(1) if found else "",
                )
            )
            upstream = http.client.HTTPConnection(
                recorder.upstream.hostname, recorder.upstream.port, timeout=30
            )
            try:
                upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                answer = upstream.getresponse()
                content = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            # A HEAD answer keeps the length of the object it describes.
            kept = ("transfer-encoding", "connection") + (
                () if self.command == "HEAD" else ("content-length",)
            )
            for name, value in answer.getheaders():
                if name.lower() not in kept:
                    self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(content)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        def _body(self) -> bytes | None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                del self.headers["Transfer-Encoding"]
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Forward


class CountingRelay(TcpRelay):
    """The project's TCP relay (in front of moto) counting the connections it serves: proof
    that a step sent no request at all."""

    def __init__(self, target_port: int) -> None:
        super().__init__(target_port)
        self.connections = 0

    def __enter__(self) -> CountingRelay:
        self.start()
        return self

    def _serve(self, client: socket.socket) -> None:
        self.connections += 1
        super()._serve(client)


def run_qengine(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m qengine ARGS`` in a child with HOME at ``home`` and a minimal environment;
    the code under test is imported (this process's ``sys.path``), wherever it is."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    if "QENGINE_HELM" in os.environ:  # the helm that installs a sandbox cluster's add-ons
        env["QENGINE_HELM"] = os.environ["QENGINE_HELM"]
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
