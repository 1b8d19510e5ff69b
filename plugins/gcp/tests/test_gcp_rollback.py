"""A GCP job that fails or is cancelled is rolled back, in the sandbox: the real terraform with
its state in the local Cloud Storage, and the node pools in the local GKE stand-in.

Each test runs the plugin's steps through the runner's Executor, as the engine does, and
cancels the job (as SIGTERM does) when a given step starts, or makes its apply fail with a
stale Terraform state lock. The sizes are read from the GKE stand-in through the official
clients, the saved record and the state from the bucket.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from gcp_support import example
from qengine_gcp.actions import GcpJob, steps_for
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import pool_sizes
from qengine_gcp.sandbox import sandbox_gcp
from qengine_gcp.sandbox_gke import LocalGke
from qengine_gcp.saved_sizes import load_sizes
from qengine_gcp.settings import GcpSettings
from qengine_gcp.state_backend import StateLocation, state_prefix, storage_client

from qengine import Event, load_plugins
from qengine.interfaces.cancel import CancelToken
from qengine.runner import Executor, JobRef, JobResult, JobStatus, Plan
from qengine.runner.sinks import CallbackSink
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob

pytestmark = pytest.mark.slow
LOCATION = StateLocation(
    bucket="acme-qengine-state-europe-west1", prefix=state_prefix("cluster-prod-europe")
)


@pytest.fixture
def sandbox() -> Iterator[GcpSettings]:
    with sandbox_gcp() as settings:
        yield settings


def _job(action: str = "create") -> InfrastructureJob:
    document = example()
    document["action"] = action
    document["id"] = f"gke-rollback-{action}"
    document["cluster"]["addons"] = {"manage": False}  # no cluster answers the stack here
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _open(name: str) -> SecretValue:
    raise AssertionError(f"no secret is opened in the sandbox ({name})")


def _access(settings: GcpSettings) -> GcpAccess:
    return GcpAccess.of(_job(), _open, settings)


def _run(job: InfrastructureJob, settings: GcpSettings, cancel_at: str = "") -> JobResult:
    """Run ``job``; with ``cancel_at``, cancel it as soon as that step starts."""
    token = CancelToken()

    def watch(event: Event) -> None:
        if cancel_at and event.type.value == "step.started" and event.step_id == cancel_at:
            token.cancel("SIGTERM")

    steps = steps_for(GcpJob.of(job, _open, settings))
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    return Executor().run(Plan(steps), ref, sinks=[CallbackSink(watch)], cancel=token)


def _ok(result: JobResult) -> None:
    assert result.status is JobStatus.SUCCEEDED, result.error


def _sizes(settings: GcpSettings) -> dict[str, tuple[int, int, int]]:
    """Each pool GKE holds: (min, max, nodes per zone)."""
    found = pool_sizes(_access(settings), "prod-europe", ["general", "spot"])
    return {name: (s.min_nodes, s.max_nodes, s.nodes) for name, s in found.items()}


def _saved(settings: GcpSettings) -> dict[str, tuple[int, int, int]] | None:
    found = load_sizes(_access(settings), LOCATION)
    if found is None:
        return None
    return {name: (s.min_nodes, s.max_nodes, s.nodes) for name, s in found.items()}


def _stand_ins(settings: GcpSettings) -> dict[str, Any]:
    """The ``terraform_data`` stand-ins the state holds, by name: their ``input``."""
    blob = storage_client(_access(settings)).bucket(LOCATION.bucket)
    found = blob.get_blob(f"{LOCATION.prefix}/default.tfstate")
    if found is None:
        return {}
    state = json.loads(found.download_as_bytes())
    return {
        r["name"]: r["instances"][0]["attributes"]["input"]["value"]
        for r in state["resources"]
        if r["type"] == "terraform_data"
    }


def _stale_lock(settings: GcpSettings, *, present: bool) -> None:
    """A Terraform state lock left by a run that died (or its removal, as force-unlock does)."""
    bucket = storage_client(_access(settings)).bucket(LOCATION.bucket)
    blob = bucket.blob(f"{LOCATION.prefix}/default.tflock")
    if not present:
        blob.delete()
        return
    info = {
        "ID": "0b1c7d3e-0000-4000-8000-000000000001",
        "Operation": "OperationTypeApply",
        "Who": "operator@elsewhere",
        "Version": "1.11.4",
        "Created": "2026-11-29T04:00:00Z",
        "Path": f"gs://{LOCATION.bucket}/{LOCATION.prefix}/default.tflock",
        "Info": "",
    }
    blob.upload_from_string(json.dumps(info), content_type="application/json")


def _pool_input(settings: GcpSettings, pool: str) -> tuple[int, int]:
    block = next(
        value for name, value in _stand_ins(settings).items() if name.endswith(f"pool_{pool}")
    )
    return block["min_count"], block["max_count"]


def test_a_cancelled_first_create_destroys_what_it_made(sandbox: GcpSettings) -> None:
    result = _run(_job(), sandbox, cancel_at="gcp.apply")

    assert result.status is JobStatus.CANCELLED
    assert "gcp.apply" in result.rolled_back
    assert _stand_ins(sandbox) == {}
    assert _sizes(sandbox) == {}  # the stand-in cluster is gone from GKE
    _ok(_run(_job(), sandbox))  # a later create starts from nothing
    assert _sizes(sandbox)["general"] == (1, 4, 2)


def test_a_cancelled_converge_of_an_existing_cluster_is_left_as_terraform_has_it(
    sandbox: GcpSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    events: list[Event] = []
    token = CancelToken()

    def watch(event: Event) -> None:
        events.append(event)
        if event.type.value == "step.started" and event.step_id == "gcp.apply":
            token.cancel("SIGTERM")

    job = _job()
    ref = JobRef(job_id="gke-converge", organization_id=job.organization.id, target_id="c")
    plan = Plan(steps_for(GcpJob.of(job, _open, sandbox)))
    result = Executor().run(plan, ref, sinks=[CallbackSink(watch)], cancel=token)

    assert result.status is JobStatus.CANCELLED
    assert "gcp.apply" in result.left_in_place
    said = [e.message for e in events if e.type.value == "warning"]
    assert any("existed before this job" in message for message in said), said
    assert _pool_input(sandbox, "general") == (1, 4)
    assert _sizes(sandbox)["general"] == (1, 4, 2)


def test_a_cancelled_pause_gives_the_node_pools_back_and_forgets_what_it_saved(
    sandbox: GcpSettings,
) -> None:
    _ok(_run(_job(), sandbox))

    result = _run(_job("pause"), sandbox, cancel_at="gcp.apply")

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == ["gcp.apply", "gcp.save-node-pool-sizes"]
    assert _sizes(sandbox) == {"general": (1, 4, 2), "spot": (0, 6, 0)}
    assert _saved(sandbox) is None
    assert _pool_input(sandbox, "general") == (1, 4)
    _ok(_run(_job("pause"), sandbox))  # a later pause saves the sizes as they are
    assert _saved(sandbox) == {"general": (1, 4, 2), "spot": (0, 6, 0)}
    assert _sizes(sandbox)["general"] == (0, 4, 0)


def test_a_pause_that_fails_at_its_apply_forgets_what_it_saved(sandbox: GcpSettings) -> None:
    _ok(_run(_job(), sandbox))
    _stale_lock(sandbox, present=True)

    result = _run(_job("pause"), sandbox)

    assert result.status is JobStatus.FAILED
    assert result.error is not None
    assert "operator@elsewhere" in result.error.message
    # The apply's own undo needs the state lock the stale holder keeps: listed as left.
    assert "gcp.apply" in result.left_in_place
    assert list(result.rolled_back) == ["gcp.save-node-pool-sizes"]
    assert _saved(sandbox) is None
    assert _sizes(sandbox)["general"] == (1, 4, 2)
    _stale_lock(sandbox, present=False)
    _ok(_run(_job("pause"), sandbox))
    assert _saved(sandbox) == {"general": (1, 4, 2), "spot": (0, 6, 0)}


def test_a_cancelled_resume_leaves_the_cluster_paused_with_its_saved_sizes(
    sandbox: GcpSettings,
) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)
    assert saved is not None

    result = _run(_job("resume"), sandbox, cancel_at="gcp.apply")

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == ["gcp.apply"]
    assert _sizes(sandbox) == {"general": (0, 4, 0), "spot": (0, 6, 0)}
    assert _saved(sandbox) == saved
    assert _pool_input(sandbox, "general") == (0, 4)
    _ok(_run(_job("resume"), sandbox))  # a later resume gives the saved sizes back
    assert _sizes(sandbox)["general"] == (1, 4, 2)
    assert _saved(sandbox) is None


def test_a_cancelled_pause_of_a_paused_cluster_leaves_it_paused(sandbox: GcpSettings) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)

    result = _run(_job("pause"), sandbox, cancel_at="gcp.apply")

    assert result.status is JobStatus.CANCELLED
    assert _sizes(sandbox)["general"] == (0, 4, 0)
    assert _pool_input(sandbox, "general") == (0, 4)
    assert _saved(sandbox) == saved


def _slow_first_resize(monkeypatch: pytest.MonkeyPatch, *, to_zero: bool) -> None:
    """GKE takes minutes to resize a pool: the stand-in's first ``setSize`` to zero nodes (or,
    ``to_zero`` False, to more) has its effect at once but its operation stays RUNNING, so a
    cancellation finds the step waiting on it; later resizes finish at once."""
    from google.cloud import container_v1

    answer = LocalGke._set_size
    slowed: list[str] = []

    def set_size(gke: LocalGke, at: dict[str, str], body: dict[str, Any]) -> Any:
        rendered = answer(gke, at, body)
        if slowed or (int(body.get("nodeCount", 0)) == 0) is not to_zero:
            return rendered
        name = list(gke._operations)[-1]
        slowed.append(name)
        operation = gke._operations[name]
        operation["status"] = "RUNNING"
        message = container_v1.Operation.from_json(json.dumps(operation))
        return lambda ints: json.loads(
            container_v1.Operation.to_json(message, use_integers_for_enums=ints)
        )

    monkeypatch.setattr(LocalGke, "_set_size", set_size)


def test_a_pause_cancelled_while_gke_resizes_gives_the_sizes_back(
    sandbox: GcpSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(_run(_job(), sandbox))
    _slow_first_resize(monkeypatch, to_zero=True)

    result = _run(_job("pause"), sandbox, cancel_at="gcp.scale-node-pools")

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == [
        "gcp.scale-node-pools",
        "gcp.apply",
        "gcp.save-node-pool-sizes",
    ]
    assert _sizes(sandbox) == {"general": (1, 4, 2), "spot": (0, 6, 0)}
    assert _saved(sandbox) is None
    assert _pool_input(sandbox, "general") == (1, 4)


def test_a_resume_cancelled_while_gke_resizes_goes_back_to_zero(
    sandbox: GcpSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(_run(_job(), sandbox))
    _ok(_run(_job("pause"), sandbox))
    saved = _saved(sandbox)
    _slow_first_resize(monkeypatch, to_zero=False)

    result = _run(_job("resume"), sandbox, cancel_at="gcp.restore-node-pool-sizes")

    assert result.status is JobStatus.CANCELLED
    assert list(result.rolled_back) == ["gcp.restore-node-pool-sizes", "gcp.apply"]
    assert _sizes(sandbox) == {"general": (0, 4, 0), "spot": (0, 6, 0)}
    assert _saved(sandbox) == saved
    assert _pool_input(sandbox, "general") == (0, 4)
