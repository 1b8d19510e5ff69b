"""The Terraform state backend in the user's own project: a Cloud Storage bucket.

:func:`ensure_state_backend` creates the bucket when it is missing and corrects what differs
on an existing one, and changes nothing on a second run (it returns the changes it made):

- the bucket (``state.bucket``, or ``qengine-state-<project>``) in ``state.location`` (the
  cluster's region by default), labelled ``managed-by: qengine``;
- object versioning on (every state version kept);
- uniform bucket-level access on and public access prevention enforced (no object ACLs, no
  public reader);
- the default encryption key, when ``state.kms_key`` names one (CMEK).

An existing bucket whose IAM configuration the server does not report is left as it is on
that point (Cloud Storage always reports it; a local fake-gcs-server does not keep it).

Each cluster's state lives under the prefix ``qengine/<cluster id>``
(``default.tfstate``, and ``default.tflock`` while a run holds the lock: Terraform's ``gcs``
backend writes the lock object with ``ifGenerationMatch=0``, so a second run is refused).
The bucket is kept when a cluster is deleted.
"""

from __future__ import annotations

import importlib
from typing import Any

import attrs

from qengine.plugin import AuthError, ConflictError
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.spec import StateBucket

LABELS = {"managed-by": "qengine", "qengine-purpose": "terraform-state"}


@attrs.frozen(kw_only=True)
class StateLocation:
    """Where one cluster's state lives; :meth:`backend_config` is the gcs backend's settings."""

    bucket: str
    prefix: str

    def backend_config(self) -> dict[str, str]:
        """The ``backend "gcs"`` settings (no credentials: the token comes from the
        environment)."""
        return {"bucket": self.bucket, "prefix": self.prefix}


def state_prefix(cluster_id: str) -> str:
    """The state prefix of a cluster."""
    return f"qengine/{cluster_id}"


def default_bucket(project: str) -> str:
    """The bucket used when the job names none (project ids are at most 30 characters)."""
    return f"qengine-state-{project}"


def storage_client(access: GcpAccess) -> Any:
    """A google-cloud-storage client of the job's project, at the settings' endpoint."""
    # google-cloud-storage ships no type information.
    storage = importlib.import_module("google.cloud.storage")
    endpoint = access.settings.storage_endpoint
    options = {"api_endpoint": endpoint} if endpoint else None
    return storage.Client(
        project=access.identity.project,
        credentials=access.credentials(),
        client_options=options,
    )


def ensure_state_backend(
    access: GcpAccess, spec: StateBucket, *, cluster_id: str
) -> tuple[StateLocation, list[str]]:
    """Create or correct the bucket; where the cluster's state lives, and the changes made."""
    provider = access.provider
    name = spec.bucket or default_bucket(provider.project)
    client = storage_client(access)
    changes: list[str] = []
    bucket = _lookup(access, client, name)
    if bucket is None:
        _create(access, client, name, spec, (spec.location or provider.region).upper())
        changes.append(f"created bucket {name}")
    else:
        changes += _correct(access, bucket, spec)
    return StateLocation(bucket=name, prefix=state_prefix(cluster_id)), changes


def _lookup(access: GcpAccess, client: Any, name: str) -> Any:
    from google.api_core import exceptions

    try:
        with access.call(f"looking up the state bucket {name}"):
            try:
                return client.get_bucket(name)
            except exceptions.NotFound:
                return None
    except AuthError as exc:
        # Preflight proved the credentials work: a refusal here means someone else's bucket.
        raise _foreign_bucket(name) from exc


def _foreign_bucket(name: str) -> ConflictError:
    return ConflictError(
        f"the state bucket {name!r} exists and this project cannot use it",
        hint="Bucket names are global: set cluster.provider.state.bucket to a name of your own.",
    )


def _create(access: GcpAccess, client: Any, name: str, spec: StateBucket, location: str) -> None:
    bucket = client.bucket(name)
    bucket.versioning_enabled = True
    bucket.iam_configuration.uniform_bucket_level_access_enabled = True
    bucket.iam_configuration.public_access_prevention = "enforced"
    bucket.labels = dict(LABELS)
    if spec.kms_key is not None:
        bucket.default_kms_key_name = spec.kms_key
    with access.call(f"creating the state bucket {name}"):
        client.create_bucket(bucket, location=location)


def _correct(access: GcpAccess, bucket: Any, spec: StateBucket) -> list[str]:
    changes: list[str] = []
    if not bucket.versioning_enabled:
        bucket.versioning_enabled = True
        changes.append(f"enabled versioning on {bucket.name}")
    reported = bucket._properties.get("iamConfiguration")
    if reported is not None:
        iam = bucket.iam_configuration
        if not iam.uniform_bucket_level_access_enabled:
            iam.uniform_bucket_level_access_enabled = True
            changes.append(f"enabled uniform bucket-level access on {bucket.name}")
        if iam.public_access_prevention != "enforced":
            iam.public_access_prevention = "enforced"
            changes.append(f"enforced public access prevention on {bucket.name}")
    if spec.kms_key is not None and bucket.default_kms_key_name != spec.kms_key:
        bucket.default_kms_key_name = spec.kms_key
        changes.append(f"set the default KMS key of {bucket.name} to {spec.kms_key}")
    if changes:
        with access.call(f"correcting the state bucket {bucket.name}"):
            bucket.patch()
    return changes
