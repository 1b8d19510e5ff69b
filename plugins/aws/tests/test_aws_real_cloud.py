"""The real-AWS tier: off unless QENGINE_TEST_AWS=1 (deselected by conftest otherwise).

Uses the host's default credential chain and region ``QENGINE_TEST_AWS_REGION`` (default
``eu-west-3``). Everything it creates is named ``qengine-test-<random>``, tagged
``managed-by=qengine`` and ``qengine:test=<run id>``, and removed at the end; a failed run
can be cleaned up by those tags. Costs a few cents (a KMS key is scheduled for deletion after
the minimum 7 days).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from aws_support import job_services
from qengine_aws import preflight
from qengine_aws.credentials import AwsAccess, CredentialRequest
from qengine_aws.ecr import EcrContainerRegistry
from qengine_aws.kms_keys import KmsKeyProvider
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import EcrRegistry, StateBackend
from qengine_aws.state_backend import ensure_state_backend

pytestmark = pytest.mark.real_cloud

RUN = secrets.token_hex(4)
NAME = f"qengine-test-{RUN}"


@pytest.fixture(scope="module")
def real() -> AwsAccess:
    region = os.environ.get("QENGINE_TEST_AWS_REGION", "eu-west-3")
    request = CredentialRequest(region=region, job_id=f"test-{RUN}", organization_id="org-test")
    return AwsAccess(request, open_secret=None)


@pytest.fixture(scope="module")
def kms_key(real: AwsAccess) -> Iterator[str]:
    kms = real.client("kms")
    key = kms.create_key(
        Description=NAME,
        Tags=[
            {"TagKey": "managed-by", "TagValue": "qengine"},
            {"TagKey": "qengine:test", "TagValue": RUN},
        ],
    )["KeyMetadata"]["Arn"]
    yield str(key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)


def test_preflight(real: AwsAccess) -> None:
    identity = preflight.preflight(real, NAME)
    assert identity.account.isdigit()


def test_state_backend_is_idempotent(real: AwsAccess, kms_key: str) -> None:
    spec = StateBackend(bucket=NAME, lock_table=NAME, kms_key_arn=kms_key)
    account = preflight.caller_identity(real).account
    try:
        _, first = ensure_state_backend(real, spec, cluster_id="c", account=account)
        _, second = ensure_state_backend(real, spec, cluster_id="c", account=account)
        assert first
        assert second == []
    finally:
        real.client("s3").delete_bucket(Bucket=NAME)
        real.client("dynamodb").delete_table(TableName=NAME)


def test_ecr_repository(real: AwsAccess) -> None:
    # The job's services with no role: the host's default chain, as ``real`` uses.
    spec = EcrRegistry(kind="ecr", region=real.region, prefix=NAME)
    registry = EcrContainerRegistry(spec, job_services(AwsSettings()))
    try:
        assert registry.ensure_repository("app") == f"{registry.host}/{NAME}/app"
        assert registry.credentials().password
        assert registry.digest_of(registry.repository_of("app"), "v1") is None
    finally:
        real.client("ecr").delete_repository(repositoryName=f"{NAME}/app", force=True)


def test_kms_wrap_unwrap(real: AwsAccess, kms_key: str) -> None:
    provider = KmsKeyProvider(kms_key, real)
    data_key = os.urandom(32)
    assert provider.unwrap(provider.wrap(data_key, organization_id="a"), organization_id="a") == (
        data_key
    )
