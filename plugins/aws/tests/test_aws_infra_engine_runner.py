"""The ``aws`` InfraEngine under the engine's runner (``RunnerOptions``): journal, the cluster's
lock, events and failures, in sandbox mode (moto, the simulator, the real terraform)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qengine_aws.infra_engine import AwsCloudProvider, RunnerOptions
from qengine_aws.journalled import journal_id
from qengine_aws.sandbox import SANDBOX_CREDENTIALS, sandbox_cluster
from qengine_aws.settings import AwsSettings, SandboxCluster

from qengine import Event, load_plugins
from qengine._errors import InvalidInputError, TargetLockedError
from qengine.interfaces.cancel import CancelToken
from qengine.runner import CallbackSink, SqliteStateStore
from qengine.secrets.value import SecretValue
from qengine.spec import InfraAction, InfrastructureJob

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox(moto: str) -> Iterator[AwsSettings]:
    with sandbox_cluster(readiness_delay=0.05) as cluster:
        yield AwsSettings(
            endpoint_url=moto,
            sandbox=cluster,
            sandbox_credentials=SANDBOX_CREDENTIALS,
            poll_interval=0.05,
        )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStateStore]:
    opened = SqliteStateStore(tmp_path / "journal.sqlite3")
    yield opened
    opened.close()


def _job(
    action: str = "create", job_id: str = "eks-prod-create-0001", **cluster: Any
) -> InfrastructureJob:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    document["id"] = job_id
    document["cluster"].update(cluster)
    document["cluster"]["provider"]["state"] = {}
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _provider(settings: AwsSettings, runner: RunnerOptions) -> AwsCloudProvider:
    external_id = SecretValue("runner-external-id")
    return AwsCloudProvider(settings=settings, open_secret=lambda _: external_id, runner=runner)


def test_calls_are_journalled_and_their_events_reach_the_sinks(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    events: list[Event] = []
    runner = RunnerOptions(store=store, sinks=(CallbackSink(events.append),))
    engine = _provider(sandbox, runner).infra_engine(_job())
    access = engine.create(_job(), CancelToken())
    assert isinstance(sandbox.sandbox, SandboxCluster)
    assert access.endpoint == sandbox.sandbox.endpoint
    job = _job()
    assert store.job_status(job.id) == "succeeded"
    assert [r.step_id for r in store.step_records(job.id) if r.status == "succeeded"] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.apply",
    ]
    started = [e.step_id for e in events if e.type.value == "step.started"]
    assert started == ["aws.preflight", "aws.state-backend", "aws.apply"]
    # Pause and resume with the same document are runs of their own, not a replay of create.
    engine.pause(job, CancelToken())
    engine.resume(job, CancelToken())
    assert store.job_status(journal_id(job, InfraAction.PAUSE)) == "succeeded"
    assert store.job_status(journal_id(job, InfraAction.RESUME)) == "succeeded"
    assert journal_id(job, InfraAction.PAUSE) == f"{job.id}.pause"
    # The same job again: its journalled run, nothing redone.
    before = len(events)
    again = engine.create(job, CancelToken())
    assert again.endpoint == access.endpoint
    assert not [e for e in events[before:] if e.type.value == "step.started"]


def test_a_call_on_a_cluster_locked_by_another_job_is_refused(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    job = _job()
    target = f"cluster/{job.cluster.id}"
    store.acquire_lock(target, "another-job")  # a live holder: this very process
    engine = _provider(sandbox, RunnerOptions(store=store)).infra_engine(job)
    with pytest.raises(TargetLockedError):
        engine.create(job, CancelToken())
    store.release_lock(target, "another-job")
    engine.create(job, CancelToken())


def test_a_failed_step_is_raised_as_its_error_class(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    engine = _provider(sandbox, RunnerOptions(store=store)).infra_engine(_job())
    engine.create(_job(kubernetes_version="1.30"), CancelToken())
    failed = _job("upgrade", "eks-prod-upgrade-0002", kubernetes_version="1.32")
    with pytest.raises(InvalidInputError, match="skips a minor version") as refused:
        engine.upgrade(failed, CancelToken())
    assert refused.value.hint
    assert store.job_status(failed.id) == "failed"
