"""A throwaway ``redis-server`` on 127.0.0.1 for tests, on a free port: without persistence,
or with the append-only file (``appendonly yes``) that production brokers run with.

The binary comes from Debian's ``redis-server`` package; a missing binary fails the test
loudly (``.ci/install-build-tools.sh`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from qengine.testing.registry import free_port

__all__ = ["LocalRedis", "run_redis"]


@attrs.define
class LocalRedis:
    """A running server; :meth:`restart` stops it and starts it again on the same port.

    With ``appendonly`` every write goes to an append-only file in :attr:`directory`
    (``appendfsync everysec``, Redis's default), which a restart reads back; without it a
    restart starts empty.
    """

    port: int
    directory: Path
    appendonly: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found: install Debian's redis-server")
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += [
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--dir",
            str(self.directory),
            "--protected-mode",
            "yes",
        ]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (SIGTERM: with ``appendonly``, Redis flushes the file first)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down ``down_seconds``, start again on the same port."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


@contextmanager
def run_redis(*, appendonly: bool = False) -> Iterator[LocalRedis]:
    """Start a server for the block; stop it and remove its directory after."""
    directory = Path(tempfile.mkdtemp(prefix="qengine-redis-"))
    server = LocalRedis(port=free_port(), directory=directory, appendonly=appendonly)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
