"""The key of the secret-hash annotation: random per environment, kept in a cluster Secret.

A pod template's ``qengine.dev/secrets-hash`` annotation is an HMAC of the secret values the
pod reads, so a changed value rolls the pods. Anyone who may read pod templates (a cluster
viewer, ``kubectl get deploy -o yaml``, an audit of the API server) sees the annotation; if
its key could be computed from public data (the environment id, as it once was), they could
test guesses of a password offline until the HMAC matched. The key is therefore 32 random
bytes made once per environment and kept in the Secret ``qengine-hash-key`` of its namespace:
only who may read Secrets there (and so the secret values themselves) can compute a hash.
The same key is read on every deploy, so redeploying unchanged secrets changes nothing; the
same value in two environments gives unrelated hashes. Deleting the environment deletes the
key with its namespace (or with its labelled objects); a new key then rolls the pods once.
"""

from __future__ import annotations

import base64
import secrets

from qengine.plugin import ConflictError, DeploymentError
from qengine.spec import Environment
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.render.labels import environment_labels

KEY_SECRET = "qengine-hash-key"  # noqa: S105 - an object name
"""The Secret holding the environment's hash key (no rendered object ends in ``-key``)."""
KEY_FIELD = "key"
KEY_BYTES = 32


def environment_hash_key(api: KubeApi, namespace: str, environment: Environment) -> bytes:
    """The hash key of ``environment``: read from its Secret, made and stored on first use.

    Two steps making it at once both try to create it; the loser reads the winner's key."""
    found = _read(api, namespace)
    if found is not None:
        return found
    key = secrets.token_bytes(KEY_BYTES)
    try:
        api.create(_secret(namespace, environment, key))
    except ConflictError:
        pass
    else:
        return key
    stored = _read(api, namespace)
    if stored is None:  # pragma: no cover - created, then deleted before the read
        raise DeploymentError(
            f"the Secret {namespace}/{KEY_SECRET} vanished while it was created",
            hint="Run the job again.",
        )
    return stored


def _read(api: KubeApi, namespace: str) -> bytes | None:
    secret = api.get("Secret", namespace, KEY_SECRET)
    if secret is None:
        return None
    encoded = (secret.get("data") or {}).get(KEY_FIELD, "")
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise DeploymentError(
            f"the Secret {namespace}/{KEY_SECRET} does not hold a {KEY_BYTES}-byte key in "
            f"data.{KEY_FIELD}",
            hint="Delete it: the next deploy makes a new key (and rolls the pods once).",
        )
    return key


def _secret(namespace: str, environment: Environment, key: bytes) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": KEY_SECRET,
            "namespace": namespace,
            "labels": environment_labels(environment),
        },
        "type": "Opaque",
        "data": {KEY_FIELD: base64.b64encode(key).decode()},
    }
