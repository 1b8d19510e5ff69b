"""The state bucket's bootstrap through google-cloud-storage against a local fake-gcs-server.

fake-gcs-server keeps a bucket's versioning but neither its IAM configuration, labels nor
default key: what the plugin sends for those is checked on the wire (a recording relay in
front of the server), what the server keeps is read back through the client.
"""

from __future__ import annotations

import uuid

from gcp_support import RecordingRelay, access_for, example
from qengine_gcp.local_gcs import LocalGcs
from qengine_gcp.settings import GcpSettings
from qengine_gcp.spec import StateBucket
from qengine_gcp.state_backend import ensure_state_backend, storage_client

TOKEN = "ya29.test-token"


def _settings(endpoint: str) -> GcpSettings:
    return GcpSettings(storage_endpoint=endpoint, sandbox_token=TOKEN)


def _bucket() -> str:
    return f"state-{uuid.uuid4().hex[:12]}"


def test_a_missing_bucket_is_created_versioned_private_and_labelled(local_gcs: LocalGcs) -> None:
    name = _bucket()
    key = "projects/acme-platform-prod/locations/europe-west1/keyRings/r/cryptoKeys/state"
    with RecordingRelay(local_gcs.url) as relay:
        access = access_for(example(), _settings(relay.url))
        location, changes = ensure_state_backend(
            access, StateBucket(bucket=name, kms_key=key), cluster_id="cluster-a"
        )
    assert changes == [f"created bucket {name}"]
    assert location.backend_config() == {"bucket": name, "prefix": "qengine/cluster-a"}
    created = [body for method, path, body in relay.requests if method == "POST"]
    assert len(created) == 1
    body = created[0]
    assert body["name"] == name
    assert body["location"] == "EUROPE-WEST1"
    assert body["versioning"] == {"enabled": True}
    assert body["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert body["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert body["labels"]["managed-by"] == "qengine"
    assert body["encryption"] == {"defaultKmsKeyName": key}
    assert (
        storage_client(access_for(example(), _settings(local_gcs.url)))
        .get_bucket(name)
        .versioning_enabled
    )


def test_a_second_run_changes_nothing(local_gcs: LocalGcs) -> None:
    name = _bucket()
    access = access_for(example(), _settings(local_gcs.url))
    ensure_state_backend(access, StateBucket(bucket=name), cluster_id="c")
    with RecordingRelay(local_gcs.url) as relay:
        again = access_for(example(), _settings(relay.url))
        _, changes = ensure_state_backend(again, StateBucket(bucket=name), cluster_id="c")
    assert changes == []
    assert [method for method, _, _ in relay.requests] == ["GET"]


def test_versioning_switched_off_is_switched_back_on(local_gcs: LocalGcs) -> None:
    name = _bucket()
    access = access_for(example(), _settings(local_gcs.url))
    ensure_state_backend(access, StateBucket(bucket=name), cluster_id="c")
    bucket = storage_client(access).get_bucket(name)
    bucket.versioning_enabled = False
    bucket.patch()
    _, changes = ensure_state_backend(access, StateBucket(bucket=name), cluster_id="c")
    assert changes == [f"enabled versioning on {name}"]
    assert storage_client(access).get_bucket(name).versioning_enabled


def test_the_default_bucket_is_named_after_the_project(local_gcs: LocalGcs) -> None:
    document = example()
    document["cluster"]["provider"]["project"] = f"proj-{uuid.uuid4().hex[:8]}"
    access = access_for(document, _settings(local_gcs.url))
    location, changes = ensure_state_backend(access, StateBucket(), cluster_id="c")
    assert location.bucket == f"qengine-state-{document['cluster']['provider']['project']}"
    assert changes == [f"created bucket {location.bucket}"]
