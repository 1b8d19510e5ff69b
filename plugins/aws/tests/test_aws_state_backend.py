"""The state backend bootstrap against moto: created once, read back, unchanged the second time."""

from __future__ import annotations

import json

import pytest
from aws_support import ACCOUNT, REGION
from qengine_aws.credentials import AwsAccess
from qengine_aws.spec import StateBackend
from qengine_aws.state_backend import (
    STATE_KEY_ALIAS,
    default_bucket,
    ensure_state_backend,
    state_key,
    tls_only_policy,
)

from qengine import AuthError


def test_bootstrap_creates_a_locked_down_bucket_and_a_lock_table(access: AwsAccess) -> None:
    location, changes = ensure_state_backend(
        access, StateBackend(), cluster_id="cluster-1", account=ACCOUNT
    )
    assert location.bucket == f"qengine-state-{ACCOUNT}-{REGION}" == default_bucket(ACCOUNT, REGION)
    assert location.key == "qengine/cluster-1/terraform.tfstate" == state_key("cluster-1")
    assert len(changes) == 7
    s3 = access.client("s3")
    assert s3.get_bucket_versioning(Bucket=location.bucket)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=location.bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]["ApplyServerSideEncryptionByDefault"]
    assert rule == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": location.kms_key_arn}
    block = s3.get_public_access_block(Bucket=location.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert len(block) == 4
    policy = json.loads(s3.get_bucket_policy(Bucket=location.bucket)["Policy"])
    assert policy == tls_only_policy(location.bucket, REGION)
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert s3.get_bucket_location(Bucket=location.bucket)["LocationConstraint"] == REGION
    table = access.client("dynamodb").describe_table(TableName=location.lock_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "LockID", "AttributeType": "S"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    kms = access.client("kms")
    assert kms.describe_key(KeyId=STATE_KEY_ALIAS)["KeyMetadata"]["Arn"] == location.kms_key_arn
    assert kms.get_key_rotation_status(KeyId=location.kms_key_arn)["KeyRotationEnabled"]


def test_a_second_run_changes_nothing(access: AwsAccess) -> None:
    first, _ = ensure_state_backend(access, StateBackend(), cluster_id="c", account=ACCOUNT)
    second, changes = ensure_state_backend(access, StateBackend(), cluster_id="c", account=ACCOUNT)
    assert changes == []
    assert second == first


def test_drifted_settings_are_corrected(access: AwsAccess) -> None:
    location, _ = ensure_state_backend(access, StateBackend(), cluster_id="c", account=ACCOUNT)
    s3 = access.client("s3")
    s3.delete_bucket_policy(Bucket=location.bucket)
    s3.put_bucket_versioning(
        Bucket=location.bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    _, changes = ensure_state_backend(access, StateBackend(), cluster_id="c", account=ACCOUNT)
    assert [c.split(" ")[0] for c in changes] == ["enabled", "set"]
    assert s3.get_bucket_versioning(Bucket=location.bucket)["Status"] == "Enabled"


def test_named_bucket_and_key_are_used_and_one_key_per_cluster(access: AwsAccess) -> None:
    kms_arn = access.client("kms").create_key()["KeyMetadata"]["Arn"]
    spec = StateBackend(bucket="acme-state", lock_table="acme-locks", kms_key_arn=kms_arn)
    one, changes = ensure_state_backend(access, spec, cluster_id="one", account=ACCOUNT)
    two, _ = ensure_state_backend(access, spec, cluster_id="two", account=ACCOUNT)
    assert not any("KMS key" in change for change in changes)
    assert (one.bucket, one.lock_table, one.kms_key_arn) == ("acme-state", "acme-locks", kms_arn)
    assert one.key != two.key
    assert one.backend_config() == {
        "bucket": "acme-state",
        "key": "qengine/one/terraform.tfstate",
        "region": REGION,
        "dynamodb_table": "acme-locks",
        "encrypt": True,
        "kms_key_id": kms_arn,
    }


def test_the_tls_only_policy_is_enforced_on_plain_http(access: AwsAccess) -> None:
    # moto evaluates bucket policies: over its plain-HTTP endpoint the state is unreadable.
    location, _ = ensure_state_backend(access, StateBackend(), cluster_id="c", account=ACCOUNT)
    s3 = access.client("s3")
    with pytest.raises(AuthError), access.call("writing the state"):
        s3.put_object(Bucket=location.bucket, Key=location.key, Body=b"{}")


def test_without_tls_only_no_policy_is_set(access: AwsAccess) -> None:
    location, changes = ensure_state_backend(
        access, StateBackend(), cluster_id="c", account=ACCOUNT, tls_only=False
    )
    assert not any("policy" in change for change in changes)
    s3 = access.client("s3")
    s3.put_object(Bucket=location.bucket, Key=location.key, Body=b"{}")
