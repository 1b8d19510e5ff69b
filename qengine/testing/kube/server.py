"""The HTTPS server: TLS, bearer-token authentication, API faults, the request log, and the
``/_sim`` paths, around :func:`qengine.testing.kube.routes.route`.

``/version``, ``/healthz``, ``/livez`` and ``/readyz`` answer without a token, as on a cluster
with the default public-info role; everything else needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import contextlib
import hmac
import http.server
import json
import socket
import ssl
import sys
import time
import urllib.parse
from typing import Any

from qengine._errors import QengineError
from qengine.testing.kube import routes
from qengine.testing.kube.context import SimContext
from qengine.testing.kube.faults import ApiFault, api_fault_from_json, pod_fault_from_json
from qengine.testing.kube.http import Request, Response
from qengine.testing.kube.requestlog import Arrival, RequestLog, RequestRecord
from qengine.testing.kube.status import ApiError, status_body

PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")


class SimServer(http.server.ThreadingHTTPServer):
    """A threading HTTPS server bound to 127.0.0.1 that carries the simulator's state."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self, port: int, ctx: SimContext, token: str, log: RequestLog, tls: ssl.SSLContext
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.ctx = ctx
        self.token = token
        self.log = log
        self.tls = tls

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connections that clients drop or break are routine here; say nothing of them."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept, then wrap in TLS (the handshake happens in the handler's thread)."""
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes; without NODELAY, Nagle's algorithm and
        # the client's delayed ACK add about 40 ms to every keep-alive request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SimServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log; the request log records requests."""

    def setup(self) -> None:
        super().setup()
        self.request.settimeout(60)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _read_request(self) -> Request:
        parsed = urllib.parse.urlsplit(self.path)
        query = {
            k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()
        }
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        return Request(
            method=self.command, path=parsed.path, query=query, headers=headers, body=body
        )

    def _serve(self) -> None:
        self._started = time.time()
        self._logged = False
        self._req = self._read_request()
        query = urllib.parse.urlsplit(self.path).query
        self.server.log.arrived(Arrival(method=self._req.method, path=self._req.path, query=query))
        try:
            self._answer(self._req)
        finally:
            self._record(0)

    def _record(self, status: int) -> None:
        """Log the request once, before its answer goes out (a client may act on the answer
        at once), or when the connection is dropped; watches are logged when they end."""
        if self._logged:
            return
        self._logged = True
        req = self._req
        self.server.log.add(
            RequestRecord(
                method=req.method,
                path=req.path,
                query=urllib.parse.urlsplit(self.path).query,
                content_type=req.content_type,
                status=status,
                time=self._started,
                duration=time.time() - self._started,
                user_agent=req.headers.get("user-agent", ""),
            )
        )

    def _authorized(self, req: Request) -> bool:
        if req.path.rstrip("/") in PUBLIC_PATHS:
            return True
        header = req.headers.get("authorization", "")
        # RFC 7235: the scheme is case-insensitive (the in-cluster client loader sends "bearer").
        given = header[7:] if header[:7].lower() == "bearer " else ""
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    def _answer(self, req: Request) -> int:
        if not self._authorized(req):
            return self._send(
                Response(status=401, body=status_body(401, "Unauthorized", "Unauthorized"))
            )
        fault = (
            None
            if req.path.startswith("/_sim")
            else self.server.ctx.faults.pick_api(req.method, req.path)
        )
        if fault is not None:
            handled = self._fault(fault)
            if handled is not None:
                return handled
        try:
            if req.path.startswith("/_sim/"):
                response = self._sim_checked(req)
            else:
                response = routes.route(self.server.ctx, req)
        except ApiError as exc:
            response = Response(status=exc.code, body=exc.body(), headers=exc.headers)
        except Exception as exc:  # a simulator bug must still answer like an API server
            message = f"Internal error occurred: {type(exc).__name__}: {exc}"
            response = Response(status=500, body=status_body(500, "InternalError", message))
        return self._send(response)

    def _fault(self, fault: ApiFault) -> int | None:
        if fault.kind == "slow":
            time.sleep(fault.delay)
            return None
        if fault.kind == "drop":
            self._record(0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)
            return 0
        if fault.kind == "429":
            body = status_body(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            )
            body["details"] = {"retryAfterSeconds": fault.retry_after}
            headers = {"Retry-After": str(fault.retry_after)}
            return self._send(Response(status=429, body=body, headers=headers))
        body = status_body(500, "InternalError", "Internal error occurred: simulated fault")
        return self._send(Response(status=500, body=body))

    def _sim_checked(self, req: Request) -> Response:
        try:
            return self._sim(req)
        except (QengineError, KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, "BadRequest", f"invalid simulator request: {exc}") from exc

    def _sim(self, req: Request) -> Response:
        sim_path = req.path[len("/_sim/") :].strip("/")
        ctx = self.server.ctx
        if sim_path == "requests" and req.method == "GET":
            return Response(body={"requests": [r.to_json() for r in self.server.log.records()]})
        if sim_path == "requests" and req.method == "DELETE":
            self.server.log.clear()
            return Response(body={})
        if sim_path == "faults" and req.method == "GET":
            return Response(body=ctx.faults.describe())
        if sim_path == "faults" and req.method == "POST":
            data = json.loads(req.body or b"{}")
            if "api" in data:
                ctx.faults.add_api(api_fault_from_json(data["api"]))
            if "pod" in data:
                ctx.faults.add_pod(pod_fault_from_json(data["pod"]))
            return Response(status=201, body=ctx.faults.describe())
        if sim_path == "faults" and req.method == "DELETE":
            ctx.faults.clear()
            return Response(body=ctx.faults.describe())
        if sim_path == "clock" and req.method == "POST":
            ctx.clock.advance(float(json.loads(req.body or b"{}").get("advance", 0)))
            return Response(body={"now": ctx.clock.stamp()})
        raise ApiError(404, "NotFound", f"unknown simulator path /_sim/{sim_path}")

    def _send(self, response: Response) -> int:
        try:
            if response.stream is not None:
                self._send_stream(response)
                self._record(response.status)
            else:
                self._record(response.status)
                self._send_whole(response)
        except (OSError, ssl.SSLError):
            self.close_connection = True
            self._record(response.status)
        return response.status

    def _send_whole(self, response: Response) -> None:
        if response.raw is not None:
            payload = response.raw
        else:
            payload = json.dumps(response.body, separators=(",", ":")).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache, private")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, response: Response) -> None:
        assert response.stream is not None
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        for chunk in response.stream:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
