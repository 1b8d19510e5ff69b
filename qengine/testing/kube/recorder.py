"""Recording core/v1 Events about objects, as controllers and kubelets do.

A repeated event (same object, reason and message) is aggregated: its ``count`` grows and
``lastTimestamp`` moves, as ``kubectl describe`` shows.
"""

from __future__ import annotations

import secrets
from typing import Any

from qengine.testing.kube.documents import clone
from qengine.testing.kube.objects import ObjectApi, WriteOptions

JSON = dict[str, Any]
_OPTS = WriteOptions(manager="kube-controller-manager", track=False)
_INDEX_LIMIT = 50_000


def record(
    api: ObjectApi, involved: JSON, kind: str, reason: str, message: str, component: str
) -> None:
    """Record an Event (``kind``: Normal or Warning) about ``involved``; caller holds the lock."""
    rtype = api.store.types.preferred("", "events")
    assert rtype is not None
    meta = involved["metadata"]
    namespace = meta.get("namespace") or "default"
    now = api.store.clock.stamp()
    index_key = (str(meta.get("uid", "")), reason, message)
    known = api.store.event_index.get(index_key)
    existing = api.store.find(rtype.key, *known) if known else None
    if existing is not None:
        updated = clone(existing)
        updated["count"] = int(updated.get("count", 1)) + 1
        updated["lastTimestamp"] = now
        api.commit_raw(rtype, updated)
        return
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": namespace},
        "involvedObject": {
            "kind": involved.get("kind"),
            "namespace": meta.get("namespace"),
            "name": meta["name"],
            "uid": meta.get("uid"),
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": kind,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "",
    }
    created = api.create(rtype, namespace, event, _OPTS)
    if len(api.store.event_index) > _INDEX_LIMIT:
        api.store.event_index.clear()  # bounded: aggregation simply starts afresh
    api.store.event_index[index_key] = (namespace, created["metadata"]["name"])
