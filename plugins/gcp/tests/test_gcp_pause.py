"""Pause and resume through the command line, in one sandbox session: every size below was
read by the step from the local GKE stand-in (Container ``getNodePool``, Compute
``instanceGroupManagers.get``) through the official clients, and the saved sizes from the
state bucket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gcp_support import example, run_qengine
from qengine_gcp.actions import GcpJob, steps_for
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import PoolSize, compute_groups_client, container_client, pool_sizes
from qengine_gcp.sandbox import sandbox_gcp
from qengine_gcp.saved_sizes import forget_sizes, load_record, load_sizes, put_back
from qengine_gcp.settings import GcpSettings
from qengine_gcp.state_backend import StateLocation, state_prefix

from qengine import load_plugins
from qengine.runner import Executor, JobRef, JobStatus, Plan
from qengine.secrets.value import SecretValue
from qengine.spec import InfrastructureJob

pytestmark = pytest.mark.slow


def _job(tmp: Path, action: str, number: int = 1, **pool_changes: Any) -> str:
    document = example()
    document["action"] = action
    document["id"] = f"gke-prod-{action}-{number:04d}"
    document["cluster"]["provider"]["node_pools"][0].update(pool_changes)
    path = tmp / f"{action}-{number}.json"
    path.write_text(json.dumps(document))
    return str(path)


def _run(tmp: Path, *specs: str) -> tuple[list[Any], str]:
    result = run_qengine(
        tmp, "run", *specs, "--sandbox", "--state-dir", str(tmp / "state"), "--output", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcomes = json.loads(result.stdout)
    return outcomes if isinstance(outcomes, list) else [outcomes], result.stderr


def _sizes(outputs: dict[str, str], pool: str) -> tuple[str, str, str]:
    return outputs[f"{pool}.min"], outputs[f"{pool}.max"], outputs[f"{pool}.nodes"]


def test_create_pause_pause_resume(tmp_path: Path) -> None:
    results, stderr = _run(
        tmp_path,
        _job(tmp_path, "create"),
        _job(tmp_path, "pause", 1),
        _job(tmp_path, "pause", 2),
        _job(tmp_path, "resume"),
    )
    assert [r["status"] for r in results] == ["succeeded"] * 4
    assert [s["step_id"] for s in results[1]["steps"]] == [
        "gcp.preflight",
        "gcp.state-backend",
        "gcp.save-node-pool-sizes",
        "gcp.apply",
        "gcp.scale-node-pools",
    ]
    paused = results[1]["outputs"]
    assert _sizes(paused["gcp.save-node-pool-sizes"], "general") == ("1", "4", "2")
    assert _sizes(paused["gcp.scale-node-pools"], "general") == ("0", "4", "0")
    assert _sizes(paused["gcp.scale-node-pools"], "spot") == ("0", "6", "0")
    again = results[2]["outputs"]
    assert _sizes(again["gcp.save-node-pool-sizes"], "general") == ("1", "4", "2")
    assert "the sizes saved by the first pause are kept" in stderr
    resumed = results[3]["outputs"]
    assert [s["step_id"] for s in results[3]["steps"]][2:] == [
        "gcp.apply",
        "gcp.restore-node-pool-sizes",
        "gcp.forget-node-pool-sizes",
    ]
    assert _sizes(resumed["gcp.restore-node-pool-sizes"], "general") == ("1", "4", "2")
    assert "deleted the saved node pool sizes" in stderr


def test_resume_clamps_the_saved_size_into_the_jobs_range(tmp_path: Path) -> None:
    results, _ = _run(
        tmp_path,
        _job(tmp_path, "create", initial_nodes=3),
        _job(tmp_path, "pause"),
        _job(tmp_path, "resume", max_nodes=2, initial_nodes=1),
    )
    assert _sizes(results[1]["outputs"]["gcp.save-node-pool-sizes"], "general") == ("1", "4", "3")
    assert _sizes(results[2]["outputs"]["gcp.restore-node-pool-sizes"], "general") == (
        "1",
        "2",
        "2",
    )


def test_a_create_of_a_paused_cluster_keeps_it_paused(tmp_path: Path) -> None:
    results, stderr = _run(
        tmp_path,
        _job(tmp_path, "create", 1),
        _job(tmp_path, "pause"),
        _job(tmp_path, "create", 2),
        _job(tmp_path, "resume"),
    )
    assert [r["status"] for r in results] == ["succeeded"] * 4
    assert "the cluster prod-europe is paused: it stays paused" in stderr
    assert "set the node pool general to min 1, max 4" in stderr  # only by the resume
    assert stderr.count("set the node pool general to min 1, max 4") == 1


def test_a_pause_before_any_cluster_saves_nothing(tmp_path: Path) -> None:
    results, stderr = _run(tmp_path, _job(tmp_path, "pause"))
    assert results[0]["status"] == "succeeded"
    assert "GKE has no node pool of prod-europe yet: no size to save" in stderr
    # The apply registered the stand-ins, paused (their minimum at zero).
    assert results[0]["outputs"]["gcp.scale-node-pools"]["general.min"] == "0"


def test_a_paused_cluster_deleted_then_created_again_is_not_paused(tmp_path: Path) -> None:
    results, stderr = _run(
        tmp_path,
        _job(tmp_path, "create", 1),
        _job(tmp_path, "pause"),
        _job(tmp_path, "delete"),
        _job(tmp_path, "create", 2),
    )
    assert [r["status"] for r in results] == ["succeeded"] * 4
    assert "deleted the node pool sizes a pause had saved" in stderr
    assert "stays paused" not in stderr


# In-process: the steps through the runner's Executor against the sandbox's stand-ins, so
# the test can resize one zone's instance group between jobs, as the cluster autoscaler does.
LOCATION = StateLocation(
    bucket="acme-qengine-state-europe-west1", prefix=state_prefix("cluster-prod-europe")
)
ZONES = ("europe-west1-b", "europe-west1-c", "europe-west1-d")


def _in_process(action: str) -> InfrastructureJob:
    document = example()
    document["action"] = action
    document["id"] = f"gke-zones-{action}"
    document["cluster"]["addons"] = {"manage": False}  # no cluster answers the stack here
    job = load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}).loader.load(document)
    assert isinstance(job, InfrastructureJob)
    return job


def _open(name: str) -> SecretValue:
    raise AssertionError(f"no secret is opened in the sandbox ({name})")


def _execute(action: str, settings: GcpSettings) -> dict[str, dict[str, str]]:
    job = _in_process(action)
    steps = steps_for(GcpJob.of(job, _open, settings))
    ref = JobRef(job_id=job.id, organization_id=job.organization.id, target_id=job.cluster.id)
    result = Executor().run(Plan(steps), ref)
    assert result.status is JobStatus.SUCCEEDED, result.error
    return {step: dict(outputs) for step, outputs in result.outputs.items()}


def _zones(settings: GcpSettings) -> dict[str, int]:
    access = GcpAccess.of(_in_process("create"), _open, settings)
    return pool_sizes(access, "prod-europe", ["general"])["general"].by_zone()


def _resize_zone(settings: GcpSettings, zone: str, size: int) -> None:
    """One zone's group resized through Compute's official client, not through the plugin."""
    access = GcpAccess.of(_in_process("create"), _open, settings)
    pool = container_client(access).get_node_pool(
        name="projects/acme-platform-prod/locations/europe-west1/clusters/prod-europe"
        "/nodePools/general"
    )
    [url] = [url for url in pool.instance_group_urls if f"/zones/{zone}/" in url]
    compute_groups_client(access).resize_unary(
        project="acme-platform-prod", zone=zone,
        instance_group_manager=url.rsplit("/", 1)[1], size=size,
    )  # fmt: skip


def _record(settings: GcpSettings) -> dict[str, Any]:
    access = GcpAccess.of(_in_process("create"), _open, settings)
    text = load_record(access, LOCATION)
    assert text is not None
    found: dict[str, Any] = json.loads(text)
    return found


def test_a_pool_whose_zones_differ_is_paused_and_resumed_zone_by_zone() -> None:
    with sandbox_gcp() as settings:
        _execute("create", settings)
        _resize_zone(settings, "europe-west1-c", 3)
        before = _zones(settings)
        assert before == dict(zip(ZONES, (2, 3, 2), strict=True))

        paused = _execute("pause", settings)

        saved = paused["gcp.save-node-pool-sizes"]
        assert saved["general.zones"] == "europe-west1-b=2,europe-west1-c=3,europe-west1-d=2"
        assert saved["general.nodes"] == "3"
        pools = _record(settings)["pools"]
        assert pools["general"]["zones"] == before
        assert pools["general"]["per_zone"] == [2, 3, 2]
        assert _zones(settings) == dict.fromkeys(ZONES, 0)

        resumed = _execute("resume", settings)

        assert _zones(settings) == before
        restored = resumed["gcp.restore-node-pool-sizes"]
        assert restored["general.zones"] == "europe-west1-b=2,europe-west1-c=3,europe-west1-d=2"
        assert restored["spot.zones"] == "europe-west1-b=0,europe-west1-c=0,europe-west1-d=0"


def test_a_record_saved_before_zones_were_is_still_read_and_gives_the_largest_count() -> None:
    with sandbox_gcp() as settings:
        _execute("create", settings)
        _resize_zone(settings, "europe-west1-c", 3)
        _execute("pause", settings)
        # The record as an earlier release wrote it: counts in group order, no zones.
        access = GcpAccess.of(_in_process("create"), _open, settings)
        record = _record(settings)
        for entry in record["pools"].values():
            del entry["zones"]
        assert forget_sizes(access, LOCATION)
        assert put_back(access, LOCATION, json.dumps(record))
        assert load_sizes(access, LOCATION) == {
            "general": PoolSize(min_nodes=1, max_nodes=4, per_zone=(2, 3, 2)),
            "spot": PoolSize(min_nodes=0, max_nodes=6, per_zone=(0, 0, 0)),
        }

        _execute("resume", settings)

        assert _zones(settings) == dict.fromkeys(ZONES, 3)
