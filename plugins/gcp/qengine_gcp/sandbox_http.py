"""The HTTP server under the sandbox's stand-ins of Google's JSON APIs: one per service, on
127.0.0.1 (a free port), each request answered by the stand-in's ``route`` with Google's
JSON; and who may call them (a fixed token, or one a :class:`TokenIssuer` issued).
:class:`LoopbackServer` starts and stops any such server (the JSON stand-ins, the Artifact
Registry Docker front).
"""

from __future__ import annotations

import http.server
import json
import threading
from types import TracebackType
from typing import Any, Protocol, Self


class TokenIssuer(Protocol):
    """Whoever issues the access tokens a stand-in accepts (the sandbox's IAM Credentials)."""

    def valid(self, authorization: str | None) -> bool:
        """Whether ``authorization`` is ``Bearer <a token issued here, not expired>``."""


Reply = tuple[int, Any]


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port) serving ``handler`` on a thread of its own
    from the ``with`` block's start to its end. ``host`` is its ``127.0.0.1:PORT``, ``url``
    its root."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class JsonStandIn(LoopbackServer):
    """A local HTTP server answering JSON; use it as a context manager. ``url`` is its root.

    Subclasses answer in :meth:`route`. ``token`` and ``issuer`` say whose bearer tokens
    :meth:`accepts`: the one fixed token, and any current token the issuer gave.
    """

    def __init__(self, *, token: str | None = None, issuer: TokenIssuer | None = None) -> None:
        self.token = token
        self.issuer = issuer
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = stand_in.route(self.command, self.path, self.headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _serve

        super().__init__(Handler)

    def accepts(self, authorization: str | None) -> bool:
        """Whether the request's ``Authorization`` header is a caller's this stand-in takes."""
        if self.token is not None and authorization == f"Bearer {self.token}":
            return True
        return self.issuer is not None and self.issuer.valid(authorization)

    def route(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        """Answer one request: (HTTP status, JSON body)."""
        raise NotImplementedError


def json_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object (empty for an empty body)."""
    found = json.loads(body) if body else {}
    return found if isinstance(found, dict) else {}


def google_error(code: int, status: str, message: str) -> Reply:
    """Google's error body (``google.rpc.Status`` as JSON)."""
    return code, {"error": {"code": code, "message": message, "status": status}}
