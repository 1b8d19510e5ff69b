"""The real-GCP tier: off unless QENGINE_TEST_GCP=1 (deselected by conftest otherwise).

It cannot run on the project's build machines (no Google access); it is written for users
who have a project. Needs, besides ``QENGINE_TEST_GCP=1``:

- the host's Application Default Credentials (``gcloud auth application-default login``, or
  a workload identity), allowed to impersonate ``QENGINE_TEST_GCP_SERVICE_ACCOUNT``;
- ``QENGINE_TEST_GCP_PROJECT`` (a project where that account may create buckets and read
  GKE's server config) and ``QENGINE_TEST_GCP_REGION`` (default ``europe-west1``).

Everything it creates is named ``qengine-test-<random>`` and labelled ``managed-by: qengine``,
and removed at the end. It costs nothing beyond a bucket's few requests: no cluster is made
(``qengine run`` of ``examples/gke`` against a real project does that, with a provider mirror).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from gcp_support import access_for, example
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.preflight import check_version_offered
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import StateBucket
from qengine_gcp.state_backend import ensure_state_backend, storage_client

pytestmark = pytest.mark.real_cloud

RUN = secrets.token_hex(4)
NAME = f"qengine-test-{RUN}"


@pytest.fixture(scope="module")
def real() -> GcpAccess:
    document = example()
    provider = document["cluster"]["provider"]
    provider["project"] = os.environ["QENGINE_TEST_GCP_PROJECT"]
    provider["region"] = os.environ.get("QENGINE_TEST_GCP_REGION", "europe-west1")
    provider["zones"] = []
    provider["service_account"] = os.environ["QENGINE_TEST_GCP_SERVICE_ACCOUNT"]
    access: GcpAccess = access_for(document, GcpSettings(token_seconds=900))
    return access


@pytest.fixture(scope="module")
def bucket(real: GcpAccess) -> Iterator[str]:
    yield NAME
    found = storage_client(real).lookup_bucket(NAME)
    if found is not None:
        found.delete(force=True)


def test_impersonation_gives_a_token_that_expires_within_the_hour(real: GcpAccess) -> None:
    import datetime

    token, expiry = real.token_and_expiry()
    assert token.reveal()
    assert expiry is not None
    left = expiry - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=5) < left <= datetime.timedelta(minutes=16)


def test_the_state_bucket_is_created_private_and_versioned_then_left_alone(
    real: GcpAccess, bucket: str
) -> None:
    _, changes = ensure_state_backend(real, StateBucket(bucket=bucket), cluster_id="c")
    assert changes == [f"created bucket {bucket}"]
    found = storage_client(real).get_bucket(bucket)
    assert found.versioning_enabled
    assert found.iam_configuration.uniform_bucket_level_access_enabled
    assert found.iam_configuration.public_access_prevention == "enforced"
    assert found.labels["managed-by"] == "qengine"
    _, again = ensure_state_backend(real, StateBucket(bucket=bucket), cluster_id="c")
    assert again == []


def test_gke_offers_a_supported_version_in_the_region(real: GcpAccess) -> None:
    from qengine_gcp.catalog import GKE_VERSIONS

    offered = []
    for version in GKE_VERSIONS:
        try:
            offered.append(check_version_offered(real, version))
        except Exception:
            continue
    assert offered
