"""An infrastructure job's lease, beside its Terraform state in the user's S3 bucket.

The object ``qengine/<cluster id>/qengine-lease.json`` of the state bucket holds the lease of
:class:`qengine.plugin.ObjectLease`; every write is an S3 conditional request (``If-None-Match:
*`` to create, ``If-Match: <ETag>`` to renew, take over or delete), so two engines with
different state directories cannot both run a job on one cluster, and Terraform's own state
lock (the DynamoDB table) still guards each apply. The lease is taken at the end of the
``aws.state-backend`` step, which makes the bucket, so that nothing is asked of AWS before the
preflight; the steps after it (the applies, the scaling) run under the lease. A job whose
state step has nothing to make (say, its bucket is gone and it was resumed past that step)
runs with Terraform's lock and the engine's store lock alone.
"""

from __future__ import annotations

from typing import Any

from qengine.plugin import LeaseObjectStore
from qengine_aws.credentials import AwsAccess
from qengine_aws.errors import error_code, translate
from qengine_aws.preflight import caller_identity
from qengine_aws.spec import StateBackend
from qengine_aws.state_backend import default_bucket

_REFUSED = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})


def lease_key(cluster_id: str) -> str:
    """The lease object of a cluster, beside its state."""
    return f"qengine/{cluster_id}/qengine-lease.json"


class S3LeaseStore(LeaseObjectStore):
    """The lease object in the cluster's state bucket, written with S3 conditional requests."""

    def __init__(self, access: AwsAccess, state: StateBackend, cluster_id: str) -> None:
        self.access = access
        self.state = state
        self.key = lease_key(cluster_id)
        self.bucket = ""

    def prepare(self) -> bool:
        """Find the state bucket; False when it does not exist yet (a first create)."""
        bucket = self.state.bucket
        if not bucket:
            account = caller_identity(self.access).account
            bucket = default_bucket(account, self.access.region)
        self.bucket = bucket
        found = self.access.unless_absent(
            f"looking for the state bucket {bucket}",
            lambda: self._s3().head_bucket(Bucket=bucket),
            "404",
            "NoSuchBucket",
            "NotFound",
        )
        return found is not None

    def read(self) -> tuple[bytes, str] | None:
        """The lease's content and ETag, or None."""
        try:
            answer = self._s3().get_object(Bucket=self.bucket, Key=self.key)
        except Exception as exc:
            if _code(exc) in _ABSENT:
                return None
            raise self._translated(exc, "reading the lease") from exc
        return answer["Body"].read(), str(answer["ETag"])

    def create(self, body: bytes) -> str | None:
        """Write the lease if it does not exist (``If-None-Match: *``)."""
        return self._put(body, IfNoneMatch="*")

    def replace(self, body: bytes, version: str) -> str | None:
        """Write the lease if it is at ``version`` (``If-Match``)."""
        return self._put(body, IfMatch=version)

    def delete(self, version: str) -> None:
        """Delete the lease if it is at ``version`` (``If-Match``)."""
        try:
            self._s3().delete_object(Bucket=self.bucket, Key=self.key, IfMatch=version)
        except Exception as exc:
            if _code(exc) in _REFUSED | _ABSENT:
                return  # taken over or gone: not ours to delete
            raise self._translated(exc, "releasing the lease") from exc

    def _put(self, body: bytes, **condition: str) -> str | None:
        try:
            answer = self._s3().put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except Exception as exc:
            if _code(exc) in _REFUSED | _ABSENT:
                return None
            raise self._translated(exc, "writing the lease") from exc
        return str(answer["ETag"])

    def _s3(self) -> Any:
        return self.access.client("s3")

    def _translated(self, exc: Exception, action: str) -> Exception:
        return translate(exc, f"{action} s3://{self.bucket}/{self.key}", hide=self.access.hidden())


def _code(exc: Exception) -> str:
    return error_code(exc)
