"""A loopback HTTP endpoint for one run: how a plugin hands a child process (Terraform, an
SDK) something it asks for over HTTP, such as the job's current short-lived credentials,
without putting it in the child's environment or on its command line.

Each cloud's SDKs can ask a local server for credentials (AWS's container credential
provider, Google's metadata server, Azure's managed identity endpoint), each with its own
paths, headers and JSON. What they share is written here once; each plugin keeps its
protocol in the ``answer`` function it gives :class:`LocalEndpoint`:

- the server listens on 127.0.0.1 only (a free port), never on every address, on a thread of
  its own, and stops when the ``with`` block ends: nothing answers after the run;
- every request is answered by ``answer(method, path, headers)`` with a :class:`Reply`; a
  method the endpoint does not take gets HTTP's 501, as from Python's own server;
- nothing is logged (a request line could carry a secret path), an answer function that
  raises gets a bare 500 (its error printed nowhere), answers are never cached
  (``Cache-Control: no-store``), the banner names no Python version, and a client that
  connects and says nothing is dropped after ten seconds;
- :func:`secret_path` and :func:`same_secret` make and check the per-run secret (a path, or
  a header's value) that keeps other local processes out, in constant time.

A plugin serves its own protocol::

    def answer(method: str, path: str, headers: Message) -> Reply:
        if method != "GET" or not same_secret(path, expected):
            return Reply(404)
        return Reply(200, json.dumps(document).encode())

    with LocalEndpoint(answer, name="my-endpoint") as endpoint:
        run_child(url=f"http://127.0.0.1:{endpoint.port}{expected}")

This module imports :mod:`http.server` (and :mod:`email`): import it where an endpoint runs,
not where a plugin registers.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Collection, Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

import attrs

__all__ = ["METHODS", "Answer", "LocalEndpoint", "Reply", "same_secret", "secret_path"]

#: Every method the endpoint can be asked to take.
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


@attrs.frozen
class Reply:
    """One answer: its status, body (left out of a ``HEAD``'s answer), content type, and
    headers sent before the content type (e.g. ``Metadata-Flavor``)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)


#: Answers a request from its method, path (with the query) and headers.
Answer = Callable[[str, str, Message], Reply]


def secret_path() -> str:
    """A fresh unguessable path segment (32 URL-safe characters)."""
    return secrets.token_urlsafe(24)


def same_secret(given: str, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time (any text)."""
    return hmac.compare_digest(given.encode(), expected.encode())


class LocalEndpoint:
    """An HTTP server on 127.0.0.1 answering with ``answer``; use it as a context manager.

    ``methods``: the methods passed to ``answer`` (others get 501); ``name`` names its
    thread and its errors. A plugin's endpoint may subclass it, passing its own bound method
    as ``answer``. Each ``with`` block serves on a new port.
    """

    def __init__(self, answer: Answer, *, name: str, methods: Collection[str] = ("GET",)) -> None:
        unknown = set(methods) - set(METHODS)
        if unknown:
            raise ValueError(f"methods not served: {sorted(unknown)}")
        self.name = name
        self._respond = answer
        self._methods = frozenset(methods)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the endpoint is serving (inside the ``with`` block)."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The port it listens on, on 127.0.0.1 (only while it runs)."""
        if self._server is None:
            raise RuntimeError(f"the {self.name} is not running")
        return int(self._server.server_address[1])

    def __enter__(self) -> Self:
        handler = type("Handler", (_Handler,), {"endpoint": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            # A short poll: shutting the endpoint down waits for the loop to look again.
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=self.name.replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reply(self, method: str, path: str, headers: Message) -> Reply | None:
        """The answer to one request, or None for a method the endpoint does not take."""
        if method not in self._methods:
            return None
        return self._respond(method, path, headers)


class _Handler(BaseHTTPRequestHandler):
    endpoint: LocalEndpoint
    # The default banner names the Python version; no client needs it.
    server_version = "qengine"
    sys_version = ""
    # A client that connects and says nothing does not hold a thread for long.
    timeout = 10

    def _serve(self) -> None:
        try:
            reply = self.endpoint.reply(self.command, self.path, self.headers)
        except Exception:
            # An answer function that fails gets a bare 500: its error, which may name what
            # it was minting, is printed nowhere (the server would write it to stderr).
            self.send_error(500)
            return
        if reply is None:
            # What BaseHTTPRequestHandler answers for a method it has no handler for.
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if reply.body and self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Log nothing: a request line or an error could carry a secret path."""
