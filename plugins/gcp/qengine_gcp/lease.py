"""An infrastructure job's lease, beside its Terraform state in the user's GCS bucket.

The object ``qengine/<cluster id>/qengine-lease.json`` of the state bucket holds the lease of
:class:`qengine.plugin.ObjectLease`; every write is conditional on the object's generation
(``ifGenerationMatch=0`` to create it, ``ifGenerationMatch=<generation>`` to renew, take over
or delete it), so two engines with different state directories cannot both run a job on one
cluster, and the ``gcs`` backend's own state lock still guards each apply. The lease is taken
at the end of the ``gcp.state-backend`` step, which makes the bucket: nothing is asked of
Google Cloud before the preflight.
"""

from __future__ import annotations

from typing import Any

from qengine.plugin import LeaseObjectStore
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.state_backend import default_bucket, state_prefix, storage_client

OBJECT = "qengine-lease.json"


def lease_key(cluster_id: str) -> str:
    """The lease object of a cluster, beside its state."""
    return f"{state_prefix(cluster_id)}/{OBJECT}"


class GcsLeaseStore(LeaseObjectStore):
    """The lease object in the cluster's state bucket, written with generation preconditions."""

    def __init__(self, access: GcpAccess, bucket: str, cluster_id: str) -> None:
        self.access = access
        self.bucket = bucket
        self.key = lease_key(cluster_id)

    def prepare(self) -> bool:
        """Whether the state bucket exists (the state step makes it)."""
        from google.api_core import exceptions

        with self.access.call(f"looking for the state bucket {self.bucket}"):
            try:
                storage_client(self.access).get_bucket(self.bucket)
            except exceptions.NotFound:
                return False
        return True

    def read(self) -> tuple[bytes, str] | None:
        """The lease's content and generation, or None."""
        from google.api_core import exceptions

        blob = self._blob()
        with self.access.call(f"reading the lease gs://{self.bucket}/{self.key}"):
            try:
                body: bytes = blob.download_as_bytes()
            except exceptions.NotFound:
                return None
        return body, str(blob.generation)

    def create(self, body: bytes) -> str | None:
        """Write the lease if it does not exist (``ifGenerationMatch=0``)."""
        return self._upload(body, 0)

    def replace(self, body: bytes, version: str) -> str | None:
        """Write the lease if it is at generation ``version``."""
        return self._upload(body, int(version))

    def delete(self, version: str) -> None:
        """Delete the lease if it is at generation ``version``."""
        from google.api_core import exceptions

        with self.access.call(f"releasing the lease gs://{self.bucket}/{self.key}"):
            try:
                self._blob().delete(if_generation_match=int(version))
            except (exceptions.PreconditionFailed, exceptions.NotFound):
                return  # taken over or gone: not ours to delete

    def _upload(self, body: bytes, generation: int) -> str | None:
        from google.api_core import exceptions

        blob = self._blob()
        with self.access.call(f"writing the lease gs://{self.bucket}/{self.key}"):
            try:
                blob.upload_from_string(
                    body, content_type="application/json", if_generation_match=generation
                )
            except (exceptions.PreconditionFailed, exceptions.NotFound):
                return None
        return str(blob.generation)

    def _blob(self) -> Any:
        return storage_client(self.access).bucket(self.bucket).blob(self.key)


def lease_bucket(state_bucket: str | None, project: str) -> str:
    """The bucket the state (and so the lease) lives in."""
    return state_bucket or default_bucket(project)
