"""Revision history of a service, kept in the cluster: one Secret per service.

Like Helm's release Secrets, ``qengine-history-<service>`` holds the last N revisions the
engine applied successfully, as gzip-compressed JSON (base64 in the Secret's ``data``), so
rollback and ``qengine status`` work from any machine that can reach the cluster.

No secret value is ever stored: a revision holds the objects as rendered with the placeholders
of ``qengine_kubernetes.placeholders`` in place of secret values (the pod templates carry only
the HMAC of the values). Re-applying a revision fills the placeholders with the values the
job has now, so a rollback restores objects, not past secret values.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.inventory import Inventory
from qengine_kubernetes.placeholders import find_tokens
from qengine_kubernetes.render import Manifest, canonical_json
from qengine_kubernetes.render.labels import ENVIRONMENT_ID, MANAGED_BY, MANAGER, SERVICE_ID

HISTORY_LABEL = "qengine.dev/history"
HISTORY_TYPE = "qengine.dev/history.v1"
PREFIX = "qengine-history-"


@attrs.frozen(kw_only=True)
class Revision:
    """One applied revision of a service: its objects with placeholders for secret values."""

    number: int
    job_id: str
    objects: tuple[Manifest, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {"revision": self.number, "job_id": self.job_id, "objects": list(self.objects)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Revision:
        """From :meth:`to_json`."""
        return cls(
            number=int(data["revision"]),
            job_id=str(data["job_id"]),
            objects=tuple(data["objects"]),
        )

    def filled(self, open_secret: Callable[[str], str]) -> list[Manifest]:
        """The objects with each secret placeholder replaced by ``open_secret(name)``."""
        return [_fill(obj, open_secret) for obj in self.objects]


def _fill(value: Any, open_secret: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, open_secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, open_secret) for v in value]
    if isinstance(value, str):
        for token, group, name in find_tokens(value):
            if group == "secrets":
                value = value.replace(token, open_secret(name))
        return value
    return value


def storable(real: list[Manifest], public: list[Manifest]) -> list[Manifest]:
    """What a revision stores: the real rendering, except that every object holding secret
    values (Secrets, and anything whose placeholder rendering differs other than by the
    secret-hash annotation) is taken from the placeholder rendering. Pod templates thus keep
    the real secret hash (an HMAC, not a value), so a rollback restores them exactly."""
    stored: list[Manifest] = []
    for mine, placeholder in zip(real, public, strict=True):
        if mine == placeholder:
            stored.append(mine)  # no secret value in it: both renderings are the same
        elif mine["kind"] == "Secret" or _without_hash(mine) != _without_hash(placeholder):
            stored.append(placeholder)
        else:
            stored.append(mine)
    return stored


def _without_hash(obj: Manifest) -> str:
    from qengine_kubernetes.render.secrets import HASH_ANNOTATION

    text = canonical_json(obj)
    for value in _hashes(obj, HASH_ANNOTATION):
        text = text.replace(value, "")
    return text


def _hashes(value: Any, annotation: str) -> list[str]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == annotation and isinstance(v, str)]
        return found + [h for v in value.values() for h in _hashes(v, annotation)]
    if isinstance(value, list):
        return [h for v in value for h in _hashes(v, annotation)]
    return []


def same_objects(stored: Sequence[Manifest], objects: Sequence[Manifest]) -> bool:
    """Whether a revision's ``stored`` objects are exactly ``objects`` (a fresh rendering)."""
    return canonical_json(list(stored)) == canonical_json(list(objects))


def secret_name(service: str) -> str:
    """The name of the history Secret of ``service``."""
    return PREFIX + service


@attrs.frozen(kw_only=True)
class History:
    """The revisions of one service, oldest first."""

    namespace: str
    service: str
    environment_id: str
    revisions: tuple[Revision, ...] = ()

    @property
    def latest(self) -> Revision | None:
        """The last revision applied successfully."""
        return self.revisions[-1] if self.revisions else None

    def with_revision(self, job_id: str, objects: list[Manifest], keep: int) -> History:
        """This history plus a new revision of ``objects``, trimmed to ``keep``."""
        number = self.latest.number + 1 if self.latest else 1
        revision = Revision(number=number, job_id=job_id, objects=tuple(objects))
        return attrs.evolve(self, revisions=(*self.revisions, revision)[-keep:])

    def without_job(self, job_id: str) -> History:
        """This history without the revisions ``job_id`` recorded (what a rollback of that
        job's changes leaves)."""
        kept = tuple(r for r in self.revisions if r.job_id != job_id)
        return attrs.evolve(self, revisions=kept)

    def to_secret(self) -> Manifest:
        """The Secret that stores this history."""
        payload = canonical_json([r.to_json() for r in self.revisions]).encode()
        blob = base64.b64encode(gzip.compress(payload, mtime=0)).decode("ascii")
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": HISTORY_TYPE,
            "metadata": {
                "name": secret_name(self.service),
                "namespace": self.namespace,
                "labels": {
                    MANAGED_BY: MANAGER,
                    ENVIRONMENT_ID: self.environment_id,
                    SERVICE_ID: self.service,
                    HISTORY_LABEL: "true",
                },
            },
            # Secret data is base64 of the bytes: here, of the base64 of the gzip, as Helm does.
            "data": {"revisions": base64.b64encode(blob.encode()).decode("ascii")},
        }


def decode(secret: Manifest) -> list[Revision]:
    """The revisions stored in a history Secret."""
    blob = base64.b64decode(secret.get("data", {}).get("revisions", ""))
    if not blob:
        return []
    data = json.loads(gzip.decompress(base64.b64decode(blob)))
    return [Revision.from_json(item) for item in data]


def load(
    api: KubeApi,
    namespace: str,
    service: str,
    environment_id: str,
    *,
    known: Inventory | None = None,
) -> History:
    """The history of ``service`` (empty when it was never deployed); ``known``: the job's
    inventory, read instead of the cluster (a deploy's hot path: one list of Secrets for the
    job rather than a GET per service)."""
    name = secret_name(service)
    secret = known.get("Secret", name) if known is not None else api.get("Secret", namespace, name)
    revisions = tuple(decode(secret)) if secret else ()
    return History(
        namespace=namespace,
        service=service,
        environment_id=environment_id,
        revisions=revisions,
    )


def save(api: KubeApi, history: History, *, known: Inventory | None = None) -> None:
    """Store ``history`` (server-side apply); an empty one deletes the Secret. ``known``: the
    job's inventory, told of the write."""
    if not history.revisions:
        if known is not None:
            known.forget("Secret", secret_name(history.service))
        api.delete("Secret", history.namespace, secret_name(history.service))
        return
    written = api.apply(history.to_secret())
    if known is not None:
        known.record(written)
