"""The node group sizes a pause saves and a resume restores: one JSON object in the state bucket.

The object is ``qengine/<cluster id>/paused-node-groups.json``, next to the cluster's state, and
is written like the state: SSE-KMS with the state's key. It is written with
``If-None-Match: *``, so it is never overwritten: pausing a paused cluster keeps the sizes the
first pause saved (a second pause would only see zeros). A resume deletes it once the sizes are
back. The bucket is versioned, so earlier versions stay in its history, as the state's do.

The object holds no secret: the cluster's name and, per node group of the job (by its
``qengine.dev/node-group`` label), EKS's name for it and its min, max and desired sizes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from qengine.plugin import InfrastructureError
from qengine_aws.credentials import AwsAccess
from qengine_aws.node_groups import Scaling
from qengine_aws.state_backend import StateLocation

FORMAT = 1


def saved_sizes_key(cluster_id: str) -> str:
    """Where a paused cluster's node group sizes are kept, next to its state."""
    return f"qengine/{cluster_id}/paused-node-groups.json"


@attrs.frozen(kw_only=True)
class SavedSizes:
    """The sizes of a cluster's node groups when it was paused, by the job's node group name."""

    cluster_name: str
    node_groups: Mapping[str, Scaling]

    def to_json(self) -> str:
        """The object's body."""
        return json.dumps(
            {
                "format": FORMAT,
                "cluster_name": self.cluster_name,
                "node_groups": {
                    name: attrs.asdict(scaling)
                    for name, scaling in sorted(self.node_groups.items())
                },
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SavedSizes:
        """Read a body written by :meth:`to_json`; anything else is an InfrastructureError."""
        try:
            data: dict[str, Any] = json.loads(text)
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}")
            groups = {
                str(name): Scaling(**{k: int(v) for k, v in sizes.items()})
                for name, sizes in data["node_groups"].items()
            }
            return cls(cluster_name=str(data["cluster_name"]), node_groups=groups)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InfrastructureError(
                f"the saved node group sizes cannot be read: {exc}",
                hint="Delete the object paused-node-groups.json next to the cluster's state; "
                "resume then uses the job's sizes.",
            ) from exc


def save_sizes(
    access: AwsAccess, location: StateLocation, cluster_id: str, sizes: SavedSizes
) -> bool:
    """Write the sizes unless an object is already there; True when this call wrote it."""
    s3 = access.client("s3")
    written = access.unless_absent(
        f"saving the node group sizes of {sizes.cluster_name}",
        lambda: s3.put_object(
            Bucket=location.bucket,
            Key=saved_sizes_key(cluster_id),
            Body=sizes.to_json().encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=location.kms_key_arn,
            IfNoneMatch="*",
        ),
        # S3's answer when the object exists: a first pause saved it, keep that one.
        "PreconditionFailed",
    )
    return written is not None


def load_sizes(access: AwsAccess, location: StateLocation, cluster_id: str) -> SavedSizes | None:
    """The saved sizes, or None when the cluster holds none (not paused, or already resumed)."""
    s3 = access.client("s3")
    found = access.unless_absent(
        "reading the saved node group sizes",
        lambda: s3.get_object(Bucket=location.bucket, Key=saved_sizes_key(cluster_id)),
        "NoSuchKey",
    )
    if found is None:
        return None
    with access.call("reading the saved node group sizes"):
        body = found["Body"].read().decode()
    return SavedSizes.from_json(body)


def forget_sizes(access: AwsAccess, location: StateLocation, cluster_id: str) -> None:
    """Delete the saved sizes (nothing happens when there are none)."""
    s3 = access.client("s3")
    with access.call("deleting the saved node group sizes"):
        s3.delete_object(Bucket=location.bucket, Key=saved_sizes_key(cluster_id))
