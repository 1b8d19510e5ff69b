"""An infrastructure job's lease, beside its Terraform state in the user's storage account.

The blob ``<cluster id>.qengine-lease.json`` of the state's container (next to
``<cluster id>.tfstate``) holds the lease of :class:`qengine.plugin.ObjectLease`; every write
is conditional on the blob's ETag (``If-None-Match: *`` to create it, ``If-Match: <ETag>`` to
renew, take over or delete it), so two engines with different state directories cannot both
run a job on one cluster, and the ``azurerm`` backend's own blob lease on the state still
guards each apply.

Why not a native blob lease (``x-ms-lease-action: acquire``) on the lock blob: a blob lease
lasts 15 to 60 seconds or forever and names no holder. The lease here must say who holds it
(job, process, host, last renewal) in the refusal, last as long as the engine's settings say
and be taken back by a resumed run of the same job; the ETag conditions give the same mutual
exclusion (exactly one of two racing writers wins) with one protocol shared by the S3, GCS and
Blob plugins. The blob is written with the job's Entra tokens for Storage (OAuth bearer,
:func:`qengine_azure.state_backend.state_blob`; azure-identity renews them before they
expire, so a job of any length keeps renewing its lease), as Azure Storage and Azurite's
OAuth mode accept for every blob operation; no SAS or account key is made. The lease is
taken at the end of the ``azure.state-backend`` step, which makes the container:
nothing is asked of Azure before the preflight.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from qengine.plugin import LeaseObjectStore, TransientError
from qengine_azure.credentials import AzureAccess
from qengine_azure.state_backend import StateLocation, state_blob, state_location

if TYPE_CHECKING:
    from azure.core import MatchConditions
    from azure.storage.blob import BlobClient

SUFFIX = ".qengine-lease.json"


def lease_blob(cluster_id: str) -> str:
    """The lease blob of a cluster, beside its state blob ``<cluster id>.tfstate``."""
    return f"{cluster_id}{SUFFIX}"


class BlobLeaseStore(LeaseObjectStore):
    """The lease blob in the cluster's state container, written with ETag conditions."""

    def __init__(self, access: AzureAccess, cluster_id: str) -> None:
        self.access = access
        self.location: StateLocation = state_location(access.provider, cluster_id)
        self.name = lease_blob(cluster_id)
        self._client: BlobClient | None = None

    @property
    def where(self) -> str:
        """``<account>/<container>/<blob>``, for messages."""
        location = self.location
        return f"{location.storage_account}/{location.container}/{self.name}"

    def prepare(self) -> bool:
        """Whether the state's container exists (the state step makes it)."""
        from azure.core.exceptions import ResourceNotFoundError

        with self._calling("looking for the state's container of"):
            try:
                self._blob().get_blob_properties()
            except ResourceNotFoundError as exc:
                return getattr(exc, "error_code", None) != "ContainerNotFound"
        return True

    def read(self) -> tuple[bytes, str] | None:
        """The lease's content and ETag, or None."""
        from azure.core.exceptions import ResourceNotFoundError

        with self._calling("reading"):
            try:
                download = self._blob().download_blob()
                body = download.readall()
            except ResourceNotFoundError:
                return None
        return body, str(download.properties.etag)

    def create(self, body: bytes) -> str | None:
        """Write the lease if it does not exist (``If-None-Match: *``)."""
        from azure.core import MatchConditions

        return self._upload(body, MatchConditions.IfMissing)

    def replace(self, body: bytes, version: str) -> str | None:
        """Write the lease if it is at ETag ``version`` (``If-Match``)."""
        from azure.core import MatchConditions

        return self._upload(body, MatchConditions.IfNotModified, version)

    def delete(self, version: str) -> None:
        """Delete the lease if it is at ETag ``version`` (``If-Match``)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

        with self._calling("releasing"):
            try:
                self._blob().delete_blob(
                    etag=version, match_condition=MatchConditions.IfNotModified
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return  # taken over or gone: not ours to delete

    def _upload(
        self, body: bytes, condition: MatchConditions, etag: str | None = None
    ) -> str | None:
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.storage.blob import ContentSettings

        settings = ContentSettings(content_type="application/json")
        with self._calling("writing"):
            blob = self._blob()
            try:
                # The SDK sends If-None-Match: * for IfMissing and takes no ETag with it.
                if etag is None:
                    answer = blob.upload_blob(
                        body, overwrite=True, content_settings=settings, match_condition=condition
                    )
                else:
                    answer = blob.upload_blob(
                        body,
                        overwrite=True,
                        content_settings=settings,
                        match_condition=condition,
                        etag=etag,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                return None  # written (or deleted) by another engine first
        return str(answer["etag"])

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Blob storage's other failures as a TransientError naming the blob (the runner tries
        a renewal again while the lease has not lapsed); only the error's kind and code are
        told, never a URL."""
        from azure.core.exceptions import AzureError, HttpResponseError

        try:
            yield
        except AzureError as exc:
            code = getattr(exc, "error_code", None)
            status = exc.status_code if isinstance(exc, HttpResponseError) else None
            what = ", ".join(str(part) for part in (status, code) if part) or type(exc).__name__
            raise TransientError(
                f"{action} the lease {self.where}: Blob storage answered {what}",
                hint="Check that the state's storage account is reachable.",
            ) from None

    def _blob(self) -> BlobClient:
        if self._client is None:
            self._client = state_blob(self.access, self.location, self.name)
        return self._client
