"""The node pool sizes a pause saves next to the Terraform state, for resume to give back.

One object per cluster in the state bucket, ``qengine/<cluster id>/paused-node-pools.json``:
``{"cluster": NAME, "pools": {POOL: {"min_nodes", "max_nodes", "per_zone": [...],
"zones": {ZONE: COUNT}}}}``: ``zones`` gives each zone's count, for resume to give each zone
its own; ``per_zone`` (the same counts, in the pool's group order) is what records written
before zones were hold, and such a record is still read (its zones unknown: resume then gives
every zone the largest count, as it did). It is
written only if it does not exist (``ifGenerationMatch=0``): a second pause, or a pause racing
another, keeps the first one's sizes (the pools are at zero by then); resume deletes it, and a
rolled-back resume writes back the record it deleted (:func:`put_back`).
"""

from __future__ import annotations

import json
from typing import Any

from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import PoolSize
from qengine_gcp.state_backend import StateLocation, storage_client

OBJECT = "paused-node-pools.json"


def _blob(access: GcpAccess, location: StateLocation) -> Any:
    return storage_client(access).bucket(location.bucket).blob(f"{location.prefix}/{OBJECT}")


def save_sizes(
    access: GcpAccess, location: StateLocation, cluster: str, sizes: dict[str, PoolSize]
) -> bool:
    """Write the sizes unless a record exists; whether this call wrote them."""
    data = {
        "cluster": cluster,
        "pools": {
            name: {
                "min_nodes": s.min_nodes,
                "max_nodes": s.max_nodes,
                "per_zone": list(s.per_zone),
                "zones": s.by_zone(),
            }
            for name, s in sizes.items()
        },
    }
    return put_back(access, location, json.dumps(data, indent=1))


def put_back(access: GcpAccess, location: StateLocation, record: str) -> bool:
    """Write ``record`` (a saved record's JSON, as :func:`load_record` read it) unless a record
    exists; whether this call wrote it."""
    from google.api_core import exceptions

    blob = _blob(access, location)
    with access.call(f"saving the node pool sizes in {location.bucket}"):
        try:
            blob.upload_from_string(record, content_type="application/json", if_generation_match=0)
        except exceptions.PreconditionFailed:
            return False
    return True


def load_record(access: GcpAccess, location: StateLocation) -> str | None:
    """The saved record as it is stored (JSON), or None when no pause saved any."""
    from google.api_core import exceptions

    blob = _blob(access, location)
    with access.call(f"reading the saved node pool sizes in {location.bucket}"):
        try:
            text: str = blob.download_as_text()
        except exceptions.NotFound:
            return None
    return text


def load_sizes(access: GcpAccess, location: StateLocation) -> dict[str, PoolSize] | None:
    """The saved sizes, or None when no pause saved any."""
    text = load_record(access, location)
    if text is None:
        return None
    pools = json.loads(text)["pools"]
    return {name: _pool_size(entry) for name, entry in pools.items()}


def _pool_size(entry: dict[str, Any]) -> PoolSize:
    # A record from before zones were saved has the counts alone, in ``per_zone``.
    zones: dict[str, Any] = entry.get("zones") or {}
    counts = zones.values() if zones else entry["per_zone"]
    return PoolSize(
        min_nodes=int(entry["min_nodes"]),
        max_nodes=int(entry["max_nodes"]),
        per_zone=tuple(int(count) for count in counts),
        zones=tuple(zones),
    )


def forget_sizes(access: GcpAccess, location: StateLocation) -> bool:
    """Delete the saved sizes; whether there were any."""
    from google.api_core import exceptions

    blob = _blob(access, location)
    with access.call(f"deleting the saved node pool sizes in {location.bucket}"):
        try:
            blob.delete()
        except exceptions.NotFound:
            return False
    return True
