"""An OpenSSH server on 127.0.0.1 for git-over-SSH tests: its own host key, one authorised
client key, no passwords. Needs Debian's ``openssh-server`` (run as root: sshd needs its
privilege-separation directory)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from qengine.secrets.hygiene import child_env
from qengine.testing.registry import free_port


@attrs.frozen(kw_only=True)
class SshServer:
    """``client_key`` is the private key sshd accepts; ``known_hosts`` a line for its host key."""

    port: int
    user: str
    client_key: str = attrs.field(repr=False)
    known_hosts: str

    def url_of(self, path: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"


def generate_key(path: Path) -> str:
    """A new ed25519 key pair at ``path`` (and ``path.pub``); the private key's text."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        env=child_env(("PATH",)),
    )
    return path.read_text()


@contextmanager
def run_sshd(directory: Path) -> Iterator[SshServer]:
    """Serve until the block ends."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        raise RuntimeError("sshd is not installed: run .ci/install-build-tools.sh")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    generate_key(directory / "host_key")
    client = generate_key(directory / "client_key")
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_key'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPidFile {directory / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
    )
    host_key = (directory / "host_key.pub").read_text().split()
    user = pwd.getpwuid(os.getuid()).pw_name
    log = (directory / "sshd.log").open("wb")
    process = subprocess.Popen(
        [sshd, "-D", "-e", "-f", str(config)],
        env=child_env(("PATH",)),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        _wait_for_port(port, process)
        yield SshServer(
            port=port,
            user=user,
            client_key=client,
            known_hosts=f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n",
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("sshd did not start in 10 s")
