"""Constants and helpers shared by the GCP plugin's tests (imported as ``gcp_support``)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
from qengine_gcp.sandbox import SANDBOX_TOKEN
from qengine_gcp.sandbox_artifact_registry import LocalArtifactRegistry
from qengine_gcp.sandbox_docker import DockerFront, docker_endpoint
from qengine_gcp.sandbox_http import LoopbackServer
from qengine_gcp.sandbox_iam import LocalIamCredentials

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "examples" / "gke" / "job.json"
QUICKSTART = REPO / "examples" / "quickstart" / "job.json"
TERRAFORMRC = REPO / ".ci" / "terraformrc"


def example() -> dict[str, Any]:
    """A fresh copy of the example GKE job."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return copy.deepcopy(data)


def run_qengine(tmp: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m qengine ARGS`` with the gcp and kubernetes plugins only, in ``tmp``."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp),
        "QENGINE_PLUGINS": "gcp,kubernetes",
        "TF_CLI_CONFIG_FILE": str(TERRAFORMRC),
    }
    if "QENGINE_HELM" in os.environ:  # the helm that installs a sandbox cluster's add-ons
        env["QENGINE_HELM"] = os.environ["QENGINE_HELM"]
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=timeout,
        check=False,
    )


def access_for(
    document: dict[str, Any], settings: Any, secrets: dict[str, str] | None = None
) -> Any:
    """A :class:`GcpAccess` of ``document``'s provider section with ``settings``."""
    from qengine_gcp.credentials import GcpAccess

    from qengine import load_plugins
    from qengine.secrets.value import SecretValue

    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    values = secrets or {}
    return GcpAccess.of(job, lambda name: SecretValue(values[name]), settings)  # type: ignore[arg-type]


@attrs.frozen
class Plane:
    """The sandbox's Artifact Registry data plane: IAM Credentials, the API stand-in and the
    Docker endpoint's front."""

    iam: LocalIamCredentials
    api: LocalArtifactRegistry
    front: DockerFront


@contextmanager
def artifact_registry_plane(directory: Path) -> Iterator[Plane]:
    """The data plane, its Distribution registry storing under ``directory``."""
    with (
        LocalIamCredentials(source_tokens=[SANDBOX_TOKEN]) as iam,
        LocalArtifactRegistry(token=SANDBOX_TOKEN, issuer=iam) as api,
        docker_endpoint(directory, issuer=iam, api=api) as front,
    ):
        yield Plane(iam, api, front)


class RecordingRelay(LoopbackServer):
    """An HTTP relay on 127.0.0.1 in front of ``upstream`` that records each request's
    method, path and JSON body, so a test sees what a client really sent. With
    ``authorize(authorization_header) -> bool``, a request it refuses gets Google's 401."""

    def __init__(self, upstream: str, authorize: Any = None) -> None:
        import http.server
        import urllib.parse

        self.requests: list[tuple[str, str, Any]] = []
        self.tokens: list[str] = []
        self.refused = 0
        target = urllib.parse.urlsplit(upstream)
        relay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _forward(self) -> None:
                import http.client

                body = self._body()
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body
                relay.requests.append((self.command, self.path, parsed))
                relay.tokens.append(self.headers.get("Authorization") or "")
                if authorize is not None and not authorize(self.headers.get("Authorization")):
                    relay.refused += 1
                    answer = json.dumps(
                        {
                            "error": {
                                "code": 401,
                                "message": "Invalid Credentials",
                                "status": "UNAUTHENTICATED",
                            }
                        }
                    ).encode()
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                    return
                upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                skip = ("host", "transfer-encoding", "content-length")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                upstream_conn.request(self.command, self.path, body=body, headers=headers)
                reply = upstream_conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream_conn.close()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    length = int(self.headers.get("Content-Length") or 0)
                    return self.rfile.read(length) if length else b""
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        super().__init__(Handler)
