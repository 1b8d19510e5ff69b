"""The Terraform state backend in the user's own account: an S3 bucket and a lock table.

:func:`ensure_state_backend` creates what is missing and corrects what differs, and changes
nothing on a second run (it returns the list of changes it made, empty when none were needed):

- a KMS key for the state (``state.kms_key_arn``, or a key of ours behind the alias
  ``alias/qengine-terraform-state``, with yearly rotation on);
- the bucket (``state.bucket``, or ``qengine-state-<account>-<region>``): versioning on,
  SSE-KMS by default with that key (S3 bucket keys on), every public access blocked, and a
  policy refusing any request not made over TLS;
- the DynamoDB lock table (``state.lock_table``): ``LockID`` string hash key, on demand.

Each cluster's state is one object, ``qengine/<cluster id>/terraform.tfstate``. The bucket is
kept when a cluster is deleted.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from qengine.plugin import AuthError, ConflictError
from qengine_aws.credentials import AwsAccess
from qengine_aws.spec import StateBackend

STATE_KEY_ALIAS = "alias/qengine-terraform-state"
_TAGS = {"managed-by": "qengine", "qengine:purpose": "terraform-state"}


@attrs.frozen(kw_only=True)
class StateLocation:
    """Where one cluster's state lives; :meth:`backend_config` is the S3 backend's settings."""

    bucket: str
    key: str
    region: str
    lock_table: str
    kms_key_arn: str

    def backend_config(self) -> dict[str, str | bool]:
        """The ``backend "s3"`` settings (no credentials: those come from the environment)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "region": self.region,
            "dynamodb_table": self.lock_table,
            "encrypt": True,
            "kms_key_id": self.kms_key_arn,
        }


def state_key(cluster_id: str) -> str:
    """The state object of a cluster."""
    return f"qengine/{cluster_id}/terraform.tfstate"


def default_bucket(account: str, region: str) -> str:
    """The bucket used when the job names none: unique per account and region, <= 63 chars."""
    return f"qengine-state-{account}-{region}"[:63]


def partition(region: str) -> str:
    """The ARN partition of ``region``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def tls_only_policy(bucket: str, region: str) -> dict[str, Any]:
    """A bucket policy denying every request made without TLS."""
    arn = f"arn:{partition(region)}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def ensure_state_backend(
    access: AwsAccess,
    spec: StateBackend,
    *,
    cluster_id: str,
    account: str,
    tls_only: bool = True,
) -> tuple[StateLocation, list[str]]:
    """Create or correct the backend; return where the cluster's state lives and the changes.

    ``tls_only=False`` leaves the TLS-only policy out: only for a plain-HTTP endpoint (moto in
    the sandbox), through which the state could not be read otherwise.
    """
    changes: list[str] = []
    key_arn = spec.kms_key_arn or _ensure_kms_key(access, changes)
    bucket = spec.bucket or default_bucket(account, access.region)
    _ensure_bucket(access, bucket, key_arn, changes, tls_only=tls_only)
    _ensure_lock_table(access, spec.lock_table, changes)
    location = StateLocation(
        bucket=bucket,
        key=state_key(cluster_id),
        region=access.region,
        lock_table=spec.lock_table,
        kms_key_arn=key_arn,
    )
    return location, changes


def _ensure_kms_key(access: AwsAccess, changes: list[str]) -> str:
    kms = access.client("kms")
    found = access.unless_absent(
        "looking up the state KMS key",
        lambda: kms.describe_key(KeyId=STATE_KEY_ALIAS),
        "NotFoundException",
    )
    if found is not None:
        return str(found["KeyMetadata"]["Arn"])
    with access.call("creating the state KMS key"):
        meta = kms.create_key(
            Description="qengine: Terraform state encryption",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in _TAGS.items()],
        )["KeyMetadata"]
        kms.enable_key_rotation(KeyId=meta["KeyId"])
        kms.create_alias(AliasName=STATE_KEY_ALIAS, TargetKeyId=meta["KeyId"])
    changes.append(f"created KMS key {meta['Arn']} ({STATE_KEY_ALIAS})")
    return str(meta["Arn"])


def _ensure_bucket(
    access: AwsAccess, bucket: str, key_arn: str, changes: list[str], *, tls_only: bool
) -> None:
    s3 = access.client("s3")
    if not _bucket_exists(access, s3, bucket):
        with access.call(f"creating the state bucket {bucket}"):
            s3.create_bucket(Bucket=bucket, **_location(access.region))
            s3.put_bucket_tagging(
                Bucket=bucket,
                Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in _TAGS.items()]},
            )
        changes.append(f"created bucket {bucket}")
    _ensure_versioning(access, s3, bucket, changes)
    _ensure_encryption(access, s3, bucket, key_arn, changes)
    _ensure_public_access_block(access, s3, bucket, changes)
    if tls_only:
        _ensure_policy(access, s3, bucket, changes)


def _location(region: str) -> dict[str, Any]:
    # us-east-1 is the one region S3 refuses as an explicit location constraint.
    if region == "us-east-1":
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _bucket_exists(access: AwsAccess, s3: Any, bucket: str) -> bool:
    # HeadBucket has no body: its error codes are the HTTP statuses.
    try:
        found = access.unless_absent(
            f"looking up the state bucket {bucket}",
            lambda: s3.head_bucket(Bucket=bucket),
            "404",
            "NoSuchBucket",
            "NotFound",
        )
    except AuthError as exc:
        # Preflight proved the credentials work: a refusal here means someone else's bucket.
        raise _foreign_bucket(bucket) from exc
    return found is not None


def _foreign_bucket(bucket: str) -> ConflictError:
    return ConflictError(
        f"the state bucket {bucket!r} exists and this account cannot use it",
        hint="Bucket names are global: set cluster.provider.state.bucket to a name of your own.",
    )


def _ensure_versioning(access: AwsAccess, s3: Any, bucket: str, changes: list[str]) -> None:
    with access.call(f"reading the versioning of {bucket}"):
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled":
        with access.call(f"enabling versioning on {bucket}"):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        changes.append(f"enabled versioning on {bucket}")


def _encryption(key_arn: str) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": key_arn,
                },
                "BucketKeyEnabled": True,
            }
        ]
    }


def _ensure_encryption(
    access: AwsAccess, s3: Any, bucket: str, key_arn: str, changes: list[str]
) -> None:
    wanted = _encryption(key_arn)["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    found = access.unless_absent(
        f"reading the encryption of {bucket}",
        lambda: s3.get_bucket_encryption(Bucket=bucket),
        "ServerSideEncryptionConfigurationNotFoundError",
    )
    rules = found["ServerSideEncryptionConfiguration"]["Rules"] if found else [{}]
    current = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    if current != wanted:
        with access.call(f"setting SSE-KMS on {bucket}"):
            s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration=_encryption(key_arn)
            )
        changes.append(f"set SSE-KMS with {key_arn} on {bucket}")


_BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def _ensure_public_access_block(
    access: AwsAccess, s3: Any, bucket: str, changes: list[str]
) -> None:
    found = access.unless_absent(
        f"reading the public access block of {bucket}",
        lambda: s3.get_public_access_block(Bucket=bucket),
        "NoSuchPublicAccessBlockConfiguration",
    )
    current = found["PublicAccessBlockConfiguration"] if found else {}
    if current != _BLOCK_ALL:
        with access.call(f"blocking public access to {bucket}"):
            s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=_BLOCK_ALL)
        changes.append(f"blocked public access to {bucket}")


def _ensure_policy(access: AwsAccess, s3: Any, bucket: str, changes: list[str]) -> None:
    wanted = tls_only_policy(bucket, access.region)
    found = access.unless_absent(
        f"reading the policy of {bucket}",
        lambda: s3.get_bucket_policy(Bucket=bucket),
        "NoSuchBucketPolicy",
    )
    current = json.loads(found["Policy"]) if found else None
    if current != wanted:
        with access.call(f"setting the TLS-only policy of {bucket}"):
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(wanted))
        changes.append(f"set the TLS-only policy of {bucket}")


def _ensure_lock_table(access: AwsAccess, table: str, changes: list[str]) -> None:
    dynamodb = access.client("dynamodb")
    found = access.unless_absent(
        f"looking up the lock table {table}",
        lambda: dynamodb.describe_table(TableName=table),
        "ResourceNotFoundException",
    )
    if found is not None:
        return
    with access.call(f"creating the lock table {table}"):
        dynamodb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": k, "Value": v} for k, v in _TAGS.items()],
        )
        dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
        )
    changes.append(f"created lock table {table}")


def holds_resources(access: AwsAccess, location: StateLocation) -> bool:
    """Whether the cluster's state object exists and records any resource (a cluster made by
    an earlier job), as opposed to none or an empty state (a first create, or one undone)."""
    s3 = access.client("s3")
    found = access.unless_absent(
        "reading the Terraform state",
        lambda: s3.get_object(Bucket=location.bucket, Key=location.key),
        "NoSuchKey",
    )
    if found is None:
        return False
    with access.call("reading the Terraform state"):
        body = found["Body"].read()
    try:
        state = json.loads(body)
    except ValueError:
        return True  # unreadable: assume there is something to keep
    return bool(isinstance(state, dict) and state.get("resources"))
