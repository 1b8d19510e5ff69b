"""The Secret of a service's secret values, and the hash that rolls its pods when they change.

The hash is an HMAC-SHA-256 over every (object, key, value) triple a pod reads, keyed by the
render's ``hash_key``: a changed value changes the pod template's annotation (so the workload
rolls), and the annotation reveals neither the value nor, without the key, a way to test a
guess against it. A deploy's key is random per environment and kept in a Secret
(``qengine_kubernetes.hashkey``), never derived from public data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

from qengine_kubernetes.render.context import Manifest, RenderContext

HASH_ANNOTATION = "qengine.dev/secrets-hash"


def opaque_secret(
    ctx: RenderContext,
    name: str,
    labels: Mapping[str, str],
    values: Mapping[str, str],
    secret_type: str = "Opaque",  # noqa: S107 - a type name
) -> Manifest:
    """A Secret with ``values`` as ``stringData`` (so placeholders stay readable in exports)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": ctx.metadata(name, labels),
        "type": secret_type,
        "stringData": dict(sorted(values.items())),
    }


def secrets_hash(ctx: RenderContext, secrets: list[Manifest]) -> str:
    """The HMAC of every value of ``secrets`` (see the module docstring)."""
    triples = sorted(
        (secret["metadata"]["name"], key, value)
        for secret in secrets
        for key, value in secret["stringData"].items()
    )
    material = json.dumps(triples, separators=(",", ":")).encode()
    return hmac.new(ctx.hash_key, material, hashlib.sha256).hexdigest()
