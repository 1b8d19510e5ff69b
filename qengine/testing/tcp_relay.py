"""A byte-for-byte TCP relay on 127.0.0.1, put in front of moto's endpoint for Terraform.

Why: with Terraform talking straight to moto's werkzeug server, under CPU contention (two or
more copies of the suite at once on two cores) the AWS SDK inside Terraform now and then
retried a DynamoDB call after a transport error although moto had already applied it. For the
lock's conditional ``PutItem`` that retry fails against Terraform's own lock, so the test sees
a false "state lock held" error and the lock row stays behind (seen in about one loaded suite
run in four; TF_LOG showed ``retrying request DynamoDB/PutItem, attempt 2``). Through this
relay, which reads each side promptly and passes closes on as half-closes, the same load gave
no such failure in 33 runs. The protocol is untouched: the relay copies bytes. The Terraform
tests and the AWS sandbox both use it. Use it as a context manager, or ``start()``/``stop()``.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_CHUNK = 65536


class TcpRelay:
    """Accepts on a free 127.0.0.1 port and copies each connection to ``target_port``."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # accept() wakes up to notice stop()
        self._stopping = threading.Event()
        self.port: int = self._listener.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> TcpRelay:
        """Start accepting; returns the relay."""
        self._acceptor.start()
        return self

    def __enter__(self) -> TcpRelay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the relay as an HTTP endpoint."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop accepting and close every open connection."""
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets |= {client, server}
        upstream = threading.Thread(target=_copy, args=(client, server), daemon=True)
        upstream.start()
        _copy(server, client)
        upstream.join()
        with self._lock:
            self._sockets -= {client, server}
        client.close()
        server.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
