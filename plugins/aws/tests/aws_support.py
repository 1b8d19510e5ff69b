"""Constants and helpers shared by the AWS plugin's tests (imported as ``aws_support``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qengine_aws.settings import AwsSettings

from qengine.secrets.value import SecretValue

#: moto's fixed account id.
ACCOUNT = "123456789012"
FAKE_KEY_ID = "AKIAQENGINETEST00001"
FAKE_SECRET = "qengine-test-secret-access-key-00000000001"
REGION = "eu-west-3"


def secrets_of(values: dict[str, str]) -> Callable[[str], SecretValue]:
    """A secret opener over ``values`` (what ``services.secrets.open`` is to a step)."""

    def open_secret(name: str) -> SecretValue:
        return SecretValue(values[name])

    return open_secret


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


class CountingRelay:
    """A byte-for-byte TCP relay on 127.0.0.1 in front of ``target_port`` that counts the
    connections it accepts: proof that a step sent no request at all. Use as a context
    manager; every connection is closed when it exits."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self.connections = 0
        self._target = ("127.0.0.1", target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # accept() wakes up to notice the stop
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.port: int = self._listener.getsockname()[1]

    def __enter__(self) -> CountingRelay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for sock in list(self._open):
            sock.close()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            client.settimeout(None)
            server = socket.create_connection(self._target)
            self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: Any, sink: Any) -> None:
    import contextlib
    import socket

    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
