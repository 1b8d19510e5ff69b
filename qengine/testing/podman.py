"""A Docker Engine API on a unix socket for tests: ``podman system service`` with its own
storage (vfs), runtime settings that work in an unprivileged container, and the given
registries allowed over plain HTTP. Needs Debian's ``podman`` and ``runc``."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from qengine.secrets.hygiene import child_env

_CONTAINERS_CONF = """[containers]
netns = "host"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


@contextmanager
def run_podman_service(directory: Path, insecure_registries: Sequence[str] = ()) -> Iterator[str]:
    """Serve the API until the block ends; yields ``unix://SOCKET`` (a DOCKER_HOST value)."""
    if shutil.which("podman") is None:
        raise RuntimeError("podman is not installed: run .ci/install-build-tools.sh")
    (directory / "containers.conf").write_text(_CONTAINERS_CONF)
    (directory / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{directory}/run"\ngraphroot = "{directory}/graph"\n'
    )
    registries = "unqualified-search-registries = []\n" + "".join(
        f'[[registry]]\nlocation = "{host}"\ninsecure = true\n' for host in insecure_registries
    )
    (directory / "registries.conf").write_text(registries)
    (directory / "xdg").mkdir(mode=0o700)
    sock = directory / "podman.sock"
    env = child_env(
        ("PATH",),
        {
            "HOME": str(directory),
            "TMPDIR": str(directory),
            "XDG_RUNTIME_DIR": str(directory / "xdg"),
            "CONTAINERS_CONF": str(directory / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(directory / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(directory / "registries.conf"),
        },
    )
    log = (directory / "podman.log").open("wb")
    process = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(sock, process)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for(sock: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"podman system service exited with {process.returncode}")
        if sock.exists():
            with socket.socket(socket.AF_UNIX) as probe:
                try:
                    probe.connect(str(sock))
                    return
                except OSError:
                    pass
        time.sleep(0.05)
    raise RuntimeError("podman system service did not start in 20 s")
