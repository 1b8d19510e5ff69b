"""The kubeconfig file that points kubectl and the client at a simulator.

Written as JSON (a YAML subset, so every kubeconfig reader accepts it), mode 0600 from the
moment it exists, since it holds the bearer token.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

CONTEXT = "qengine-sim"


def render(url: str, token: str, ca_pem: bytes, *, namespace: str = "default") -> dict[str, Any]:
    """The kubeconfig document (one cluster, user and context, all named ``qengine-sim``)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": url,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write ``document`` to ``path`` with mode 0600 (created so, never wider)."""
    return write_private(path, json.dumps(document, indent=2).encode())


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to a file only its owner can read, from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    return path
