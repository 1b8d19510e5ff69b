"""An Azure job that fails or is cancelled is rolled back, in the sandbox: the real terraform
with its state in Azurite, and the managed cluster in the stand-in Resource Manager.

Each test runs the plugin's steps through the runner's Executor, as the engine does, and
cancels the job (as SIGTERM does) when a given step starts. The power state is read from the
stand-in through the official client (azure-mgmt-containerservice), the state from Azurite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from azure_support import DEMO_SECRET, example
from qengine_azure import local_arm
from qengine_azure.actions import AzureJob, steps_for
from qengine_azure.credentials import AzureAccess
from qengine_azure.pause import find_power_state
from qengine_azure.sandbox import sandbox_azure
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import state_location

from qengine import Event, load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.runner import Executor, JobRef, JobResult, JobStatus, Plan
from qengine.runner.sinks import CallbackSink
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("azurite_binary")]
ACCOUNT = "acmeqestateweu"


@pytest.fixture
def sandbox() -> Iterator[AzureSettings]:
    with sandbox_azure((ACCOUNT,)) as settings:
        yield settings


def _job(action: str = "create") -> InfrastructureJob:
    document = example()
    document["action"] = action
    document["id"] = f"aks-rollback-{action}"
    document["cluster"]["addons"] = {"manage": False}  # no cluster answers the stack here
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _open(name: str) -> SecretValue:
    return SecretValue({"azure-client-secret": DEMO_SECRET}[name])


def _run(
    job: InfrastructureJob,
    settings: AzureSettings,
    cancel_at: str = "",
    events: list[Event] | None = None,
) -> JobResult:
    """Run ``job``; with ``cancel_at``, cancel it as soon as that step starts."""
    token = CancelToken()

    def watch(event: Event) -> None:
        if events is not None:
            events.append(event)
        if cancel_at and event.type.value == "step.started" and event.step_id == cancel_at:
            token.cancel("SIGTERM")

    steps = steps_for(AzureJob.of(job, _open, settings))
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    return Executor().run(Plan(steps), ref, sinks=[CallbackSink(watch)], cancel=token)


def _ok(result: JobResult) -> None:
    assert result.status is JobStatus.SUCCEEDED, result.error


def _power(settings: AzureSettings) -> str | None:
    return find_power_state(AzureAccess.of(_job(), _open, settings), _job())


def _stand_ins(settings: AzureSettings) -> dict[str, Any]:
    """The ``terraform_data`` stand-ins the state blob holds, by name: their ``input``."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobClient

    job = _job()
    location = state_location(AzureAccess.of(job, _open, settings).provider, job.cluster.id)
    assert settings.state_sas is not None
    blob = BlobClient(
        settings.account_url(ACCOUNT),
        location.container,
        location.key,
        credential=settings.state_sas(ACCOUNT),
        connection_verify=str(settings.ca_file),
    )
    try:
        state = json.loads(blob.download_blob().readall())
    except ResourceNotFoundError:
        return {}
    return {
        r["name"]: r["instances"][0]["attributes"]["input"]["value"]
        for r in state["resources"]
        if r["type"] == "terraform_data"
    }


def test_a_cancelled_first_create_destroys_what_it_made(sandbox: AzureSettings) -> None:
    result = _run(_job(), sandbox, cancel_at="azure.apply")

    assert result.status is JobStatus.CANCELLED
    assert "azure.apply" in result.rolled_back
    assert _stand_ins(sandbox) == {}
    assert _power(sandbox) is None  # no managed cluster left in the stand-in
    _ok(_run(_job(), sandbox))  # a later create starts from nothing
    assert _power(sandbox) == "Running"
    assert _stand_ins(sandbox)


def test_a_cancelled_converge_of_an_existing_cluster_is_left_as_terraform_has_it(
    sandbox: AzureSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    before = _stand_ins(sandbox)
    events: list[Event] = []

    result = _run(_job(), sandbox, cancel_at="azure.apply", events=events)

    assert result.status is JobStatus.CANCELLED
    assert "azure.apply" in result.left_in_place
    said = [e.message for e in events if e.type.value == "warning"]
    assert any("existed before this job" in message for message in said), said
    assert _stand_ins(sandbox) == before
    assert _power(sandbox) == "Running"


def test_a_cancelled_resume_stops_the_cluster_again(sandbox: AzureSettings) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    assert _power(sandbox) == "Stopped"

    result = _run(_job("resume"), sandbox, cancel_at="azure.apply")

    assert result.status is JobStatus.CANCELLED
    assert "azure.start" in result.rolled_back
    assert "azure.apply" in result.left_in_place  # a converge of the blueprint, not undone
    assert _power(sandbox) == "Stopped"
    _ok(_run(_job("resume"), sandbox))
    assert _power(sandbox) == "Running"


def test_a_cancelled_resume_of_a_running_cluster_leaves_it_running(
    sandbox: AzureSettings,
) -> None:
    _ok(_run(_job(), sandbox))

    result = _run(_job("resume"), sandbox, cancel_at="azure.apply")

    assert result.status is JobStatus.CANCELLED
    assert _power(sandbox) == "Running"
    stops = [r for r in _arm(sandbox).state.requests if r.path.endswith("/stop")]
    assert stops == []


def _arm(settings: AzureSettings) -> local_arm.LocalArm:
    assert settings.stand_in is not None
    return settings.stand_in


def _cluster(settings: AzureSettings) -> dict[str, Any]:
    """The stand-in's managed cluster as AKS reports it (read through the official client)."""
    from azure.mgmt.containerservice import ContainerServiceClient

    access = AzureAccess.of(_job(), _open, settings)
    client = ContainerServiceClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=settings.arm_endpoint,
        credential_scopes=[settings.arm_scope],
        **access.client_options(),
    )
    found = client.managed_clusters.get(access.provider.resource_group.name, "prod-weu")
    code = found.power_state.code if found.power_state is not None else None
    return {"provisioning": found.provisioning_state, "power": str(getattr(code, "value", code))}


def test_pause_and_resume_wait_while_aks_stops_and_starts(sandbox: AzureSettings) -> None:
    """The stand-in keeps each stop and start in flight for a while (``Stopping``, then
    ``Starting``, the operation's status ``InProgress``): the steps end only once AKS
    reports the operation done."""
    _ok(_run(_job(), sandbox))
    arm = _arm(sandbox)
    arm.operation_seconds = 5.0  # the SDK's poller looks every 2 s: it sees InProgress

    paused = _run(_job("pause"), sandbox)

    _ok(paused)
    # Read at once after the job: the stop had ended before the step did.
    assert _cluster(sandbox) == {"provisioning": "Succeeded", "power": "Stopped"}
    assert "InProgress" in arm.state.operation_answers
    assert arm.state.operation_answers[-1] == "Succeeded"
    arm.state.operation_answers.clear()

    resumed = _run(_job("resume"), sandbox)

    _ok(resumed)
    assert _cluster(sandbox) == {"provisioning": "Succeeded", "power": "Running"}
    assert "InProgress" in arm.state.operation_answers
    assert arm.state.operation_answers[-1] == "Succeeded"


def test_a_second_stop_while_one_is_in_flight_is_refused_as_aks_refuses_it(
    sandbox: AzureSettings,
) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerservice import ContainerServiceClient

    _ok(_run(_job(), sandbox))
    _arm(sandbox).operation_seconds = 60.0
    access = AzureAccess.of(_job(), _open, sandbox)
    clusters = ContainerServiceClient(
        access.credential(),
        access.provider.subscription_id,
        base_url=sandbox.arm_endpoint,
        credential_scopes=[sandbox.arm_scope],
        **access.client_options(),
    ).managed_clusters
    group = access.provider.resource_group.name
    clusters.begin_stop(group, "prod-weu")
    assert _cluster(sandbox) == {"provisioning": "Stopping", "power": "Running"}
    with pytest.raises(HttpResponseError) as refused:
        clusters.begin_start(group, "prod-weu")
    assert refused.value.status_code == 409
    assert refused.value.error is not None
    assert refused.value.error.code == "OperationNotAllowed"


def test_a_pause_cancelled_while_aks_stops_starts_the_cluster_again(
    sandbox: AzureSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    # AKS takes minutes to stop a cluster: the stand-in keeps the stop in flight (the cluster
    # reads Stopping, still Running), so the cancellation finds the step waiting on it and
    # the rollback must wait for the stop to end before it can start the cluster again (a
    # start meanwhile is refused; a rollback reading the power state at once would find it
    # Running and leave the cluster to end Stopped).
    arm = _arm(sandbox)
    arm.operation_seconds = 5.0
    events: list[Event] = []

    result = _run(_job("pause"), sandbox, cancel_at="azure.stop", events=events)

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == ["azure.stop"]
    assert _cluster(sandbox) == {"provisioning": "Succeeded", "power": "Running"}
    requests = [r.path for r in arm.state.requests]
    assert [p.rsplit("/", 1)[1] for p in requests if p.endswith(("/stop", "/start"))] == [
        "stop",
        "start",
    ]
    # The start was sent only once the stop had ended (AKS would have refused it before).
    stop, start = list(arm.state.operations.values())
    assert (stop.power, start.power) == ("Stopped", "Running")
    assert stop.ended
    assert start.ended
    assert start.started >= stop.ends_at
