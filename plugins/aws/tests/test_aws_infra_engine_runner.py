"""What the engine's one runner gives an AWS job: the journal (a finished job is not run again,
an interrupted one resumes after its last finished step), the cluster's lock, events, and a
failure's error class and hint, through ``Engine.run`` with a journal that survives the
engine (``SqliteStateStore``), in sandbox mode (moto, the simulator, the real terraform)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_support import EXAMPLE
from qengine_aws.sandbox import SANDBOX_CREDENTIALS, sandbox_cluster
from qengine_aws.settings import AwsSettings

from qengine import Engine, Event, load_plugins
from qengine.plugin import CancelToken, TargetLockedError
from qengine.runner import CallbackSink, JobResult, JobStatus, SqliteStateStore

SECRETS = {"aws_external_id": "runner-external-id"}

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


def _document(
    action: str = "create", job_id: str = "eks-prod-create-0001", **cluster: Any
) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    document["id"] = job_id
    document["cluster"].update(cluster)
    document["cluster"]["provider"]["state"] = {}
    return document


def _engine(settings: AwsSettings, store: SqliteStateStore) -> Engine:
    plugins = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"})
    return Engine(plugins, store=store, settings={"aws": settings})


def _run(engine: Engine, document: dict[str, Any], **options: Any) -> JobResult:
    return engine.run(document, sandbox_secrets=SECRETS, **options)


def _started(events: list[Event]) -> list[str | None]:
    return [e.step_id for e in events if e.type.value == "step.started"]


def test_runs_are_journalled_and_their_events_reach_the_sinks(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    engine = _engine(sandbox, store)
    events: list[Event] = []
    created = _run(engine, _document(), sinks=(CallbackSink(events.append),))
    assert created.status is JobStatus.SUCCEEDED, created.error
    assert sandbox.sandbox is not None
    assert created.outputs["aws.apply"]["endpoint"] == sandbox.sandbox.endpoint
    assert store.job_status("eks-prod-create-0001") == "succeeded"
    records = store.step_records("eks-prod-create-0001")
    succeeded = [r.step_id for r in records if r.status == "succeeded"]
    # The cluster, then its add-on stack (docs/addons.md), each step journalled.
    assert succeeded[:3] == ["aws.preflight", "aws.state-backend", "aws.apply"]
    assert _started(events)[:3] == ["aws.preflight", "aws.state-backend", "aws.apply"]
    assert succeeded[3] == "addons.crds"
    assert all(step.startswith("addons.") for step in succeeded[3:])
    # Pause and resume of the same cluster are jobs of their own, journalled by their ids.
    for action, job_id in (("pause", "eks-prod-pause-0002"), ("resume", "eks-prod-resume-0003")):
        result = _run(engine, _document(action, job_id))
        assert result.status is JobStatus.SUCCEEDED, result.error
        assert store.job_status(job_id) == "succeeded"
    # The same job again: its journalled run, nothing redone.
    again: list[Event] = []
    replayed = _run(engine, _document(), on_event=again.append)
    assert replayed.status is JobStatus.SUCCEEDED
    assert replayed.outputs["aws.apply"]["endpoint"] == created.outputs["aws.apply"]["endpoint"]
    assert _started(again) == []


def test_an_interrupted_job_resumes_after_its_last_finished_step(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    engine = _engine(sandbox, store)
    token = CancelToken()

    def stop_after_the_state_backend(event: Event) -> None:
        if event.type.value == "step.finished" and event.step_id == "aws.state-backend":
            token.cancel("the host is shutting down")

    stopped = _run(engine, _document(), on_event=stop_after_the_state_backend, cancel=token)
    assert stopped.status is JobStatus.CANCELLED
    assert "aws.apply" not in stopped.outputs
    events: list[Event] = []
    resumed = _run(_engine(sandbox, store), _document(), on_event=events.append)
    assert resumed.status is JobStatus.SUCCEEDED, resumed.error
    started = _started(events)
    assert started[0] == "aws.apply"
    assert all(step.startswith("addons.") for step in started[1:])
    assert resumed.outputs["aws.state-backend"] == stopped.outputs["aws.state-backend"]


def test_a_run_on_a_cluster_locked_by_another_job_is_refused(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    engine = _engine(sandbox, store)
    target = "cluster/cluster-prod-eu"
    store.acquire_lock(target, "another-job")  # a live holder: this very process
    with pytest.raises(TargetLockedError):
        _run(engine, _document())
    assert store.step_records("eks-prod-create-0001") == []
    store.release_lock(target, "another-job")
    assert _run(engine, _document()).status is JobStatus.SUCCEEDED


def test_a_failed_step_is_reported_with_its_error_class_and_hint(
    sandbox: AwsSettings, store: SqliteStateStore
) -> None:
    engine = _engine(sandbox, store)
    created = _run(engine, _document(kubernetes_version="1.30"))
    assert created.status is JobStatus.SUCCEEDED, created.error
    failed = _run(engine, _document("upgrade", "eks-prod-upgrade-0002", kubernetes_version="1.32"))
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.kind == "InvalidInputError"
    assert "skips a minor version" in failed.error.message
    assert failed.error.hint
    assert store.job_status("eks-prod-upgrade-0002") == "failed"
