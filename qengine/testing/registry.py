"""A Distribution (``docker-registry``, 2.8) registry on 127.0.0.1 for tests: plain HTTP, or
TLS with a self-signed certificate and htpasswd (bcrypt) users.

The registry binary comes from Debian's ``docker-registry`` package; a missing binary fails
the test loudly (``.ci/install-build-tools.sh`` installs it).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from qengine.secrets.hygiene import child_env
from qengine.testing.token_server import ISSUER, SERVICE, TokenServer


@attrs.frozen(kw_only=True)
class LocalRegistry:
    """A running registry. ``host`` is ``127.0.0.1:PORT``; ``ca_pem`` is set with TLS."""

    host: str
    scheme: str
    storage: Path
    ca_pem: str | None = None
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def run_registry(
    directory: Path,
    *,
    tls: bool = False,
    username: str | None = None,
    password: str | None = None,
    log_level: str = "warn",
    token: TokenServer | None = None,
) -> Iterator[LocalRegistry]:
    """Start a registry storing under ``directory``; stop it when the block ends.

    ``token`` switches to the token scheme (a Bearer challenge naming ``token.realm``).
    Its log is ``directory/registry.log``; at ``log_level="info"`` it has one
    ``response completed`` line per request (benchmarks count them).
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed: run .ci/install-build-tools.sh")
    port = free_port()
    storage = directory / "storage"
    storage.mkdir(parents=True)
    config: dict[str, object] = {
        "version": 0.1,
        "log": {"level": log_level},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": "test-only-secret"},
    }
    ca_pem = ca_file = None
    if tls:
        cert, key = _self_signed(directory)
        config["http"] = {**config["http"], "tls": {"certificate": str(cert), "key": str(key)}}  # type: ignore[dict-item]
        ca_pem, ca_file = cert.read_text(), cert
    if username is not None and password is not None:
        htpasswd = directory / "htpasswd"
        subprocess.run(
            ["htpasswd", "-B", "-b", "-c", str(htpasswd), username, password],
            check=True,
            capture_output=True,
            env=child_env(("PATH",)),
        )
        config["auth"] = {"htpasswd": {"realm": "test-registry", "path": str(htpasswd)}}
    if token is not None:
        config["auth"] = {
            "token": {
                "realm": token.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(token.certificate),
            }
        }
    config_file = directory / "config.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen(
        [binary, "serve", str(config_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=child_env(("PATH",)),
    )
    registry = LocalRegistry(
        host=f"127.0.0.1:{port}",
        scheme="https" if tls else "http",
        storage=storage,
        ca_pem=ca_pem,
        ca_file=ca_file,
        username=username,
        password=password,
    )
    try:
        _wait_until_up(port, process)
        yield registry
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not start in 15 s")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "registry.crt"
    key_path = directory / "registry.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
