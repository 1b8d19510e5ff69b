"""An infrastructure job's lease beside its state in the S3 bucket: engines with different
state stores (two hosts) do not run jobs on one cluster at once. Through ``Engine.run`` in
sandbox mode (moto's S3 with its conditional writes, the real terraform)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_support import EXAMPLE
from qengine_aws.lease import lease_key
from qengine_aws.sandbox import SANDBOX_CREDENTIALS, sandbox_cluster
from qengine_aws.settings import AwsSettings

from qengine import Engine, Event, load_plugins
from qengine.runner import JobStatus, MemoryStateStore

SECRETS = {"aws_external_id": "lease-external-id"}
CLUSTER = "cluster-prod-eu"

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(moto: str) -> Iterator[AwsSettings]:
    with sandbox_cluster(readiness_delay=0.05) as cluster:
        yield AwsSettings(
            endpoint_url=moto,
            sandbox=cluster,
            sandbox_credentials=SANDBOX_CREDENTIALS,
            poll_interval=0.05,
            job_lease_seconds=3.0,
        )


def _document(action: str, job_id: str) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    document["id"] = job_id
    document["cluster"]["provider"]["state"] = {}
    return document


def _engine(settings: AwsSettings) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    return Engine(plugins, store=MemoryStateStore(), settings={"aws": settings})


def _s3(moto: str) -> Any:
    key, secret = SANDBOX_CREDENTIALS
    return boto3.client(
        "s3",
        endpoint_url=moto,
        region_name="eu-west-3",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def _lease(moto: str) -> dict[str, Any] | None:
    s3 = _s3(moto)
    for bucket in s3.list_buckets().get("Buckets", []):
        try:
            body = s3.get_object(Bucket=bucket["Name"], Key=lease_key(CLUSTER))["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        found: dict[str, Any] = json.loads(body)
        return found
    return None


def test_the_lease_is_taken_once_the_state_step_made_the_bucket_and_released_at_the_end(
    sandbox: AwsSettings, moto: str
) -> None:
    seen: dict[str, dict[str, Any] | None] = {}

    def look(event: Event) -> None:
        if event.type.value == "step.started" and event.step_id:
            seen[event.step_id] = _lease(moto)

    created = _engine(sandbox).run(
        _document("create", "create-1"), sandbox_secrets=SECRETS, on_event=look
    )

    assert created.status is JobStatus.SUCCEEDED, created.error
    assert seen["aws.preflight"] is None  # nothing asked of AWS before the preflight
    applying = seen["aws.apply"]
    assert applying is not None
    assert applying["job"] == "create-1"
    assert applying["holder"].startswith("job create-1 (pid ")
    assert _lease(moto) is None  # released at the end


def test_a_second_engine_with_its_own_store_is_refused_while_a_job_holds_the_cluster(
    sandbox: AwsSettings, moto: str
) -> None:
    first = _engine(sandbox).run(_document("create", "create-1"), sandbox_secrets=SECRETS)
    assert first.status is JobStatus.SUCCEEDED, first.error
    release = threading.Event()
    holding = threading.Event()

    def hold(event: Event) -> None:
        if event.type.value == "step.finished" and event.step_id == "aws.state-backend":
            holding.set()
            release.wait(30)  # the job holds its lease (renewed every second) meanwhile

    out: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: out.setdefault(
            "r",
            _engine(sandbox).run(
                _document("create", "long"), sandbox_secrets=SECRETS, on_event=hold
            ),
        )
    )
    thread.start()
    assert holding.wait(120)
    time.sleep(4)  # past the lease's 3 s: only renewals keep it

    events: list[Event] = []
    refused = _engine(sandbox).run(
        _document("create", "other"), sandbox_secrets=SECRETS, on_event=events.append
    )

    release.set()
    thread.join(timeout=120)
    assert refused.status is JobStatus.FAILED
    assert refused.exit_code == 4
    assert refused.error is not None
    assert refused.error.kind == "TargetLockedError"
    assert "job long (pid" in refused.error.message
    started = [e.step_id for e in events if e.type.value == "step.started"]
    assert "aws.apply" not in started  # nothing past the state step ran
    assert out["r"].status is JobStatus.SUCCEEDED, out["r"].error


def test_a_lapsed_lease_of_a_killed_job_is_taken_over(sandbox: AwsSettings, moto: str) -> None:
    first = _engine(sandbox).run(_document("create", "create-1"), sandbox_secrets=SECRETS)
    assert first.status is JobStatus.SUCCEEDED, first.error
    s3 = _s3(moto)
    bucket = next(
        b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("qengine-state-")
    )
    stale = {
        "job": "killed",
        "holder": "job killed (pid 1 on elsewhere)",
        "renewed_at": 0,
        "seconds": 60,
    }
    s3.put_object(Bucket=bucket, Key=lease_key(CLUSTER), Body=json.dumps(stale).encode())

    taken = _engine(sandbox).run(_document("create", "taker"), sandbox_secrets=SECRETS)

    assert taken.status is JobStatus.SUCCEEDED, taken.error
    assert _lease(moto) is None
