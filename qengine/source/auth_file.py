"""Registry credentials as files for container tools: an ``auth.json`` (the Docker config
format) and a certificate directory, written 0600 into a private directory the caller removes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path

from qengine.interfaces.registry import RegistryCredentials
from qengine.secrets.hygiene import write_private_file


def docker_config(credentials: Iterable[RegistryCredentials]) -> bytes:
    """``{"auths": {server: {"auth": base64(user:password)}}}``: the payload of an
    ``auth.json`` and of a ``kubernetes.io/dockerconfigjson`` imagePullSecret."""
    auths = {}
    for entry in credentials:
        pair = f"{entry.username}:{entry.password}".encode()
        auths[entry.server] = {"auth": base64.b64encode(pair).decode()}
    return json.dumps({"auths": auths}, sort_keys=True).encode()


def write_auth_file(directory: Path, credentials: Iterable[RegistryCredentials]) -> Path:
    """``directory/auth.json`` (0600) for ``--authfile``."""
    return write_private_file(directory, "auth.json", docker_config(credentials))


def write_cert_dir(directory: Path, ca_pem: str) -> Path:
    """``directory/certs/ca.crt``: a ``--cert-dir`` trusting ``ca_pem``."""
    certs = directory / "certs"
    certs.mkdir(mode=0o700)
    write_private_file(certs, "ca.crt", ca_pem.encode())
    return certs
