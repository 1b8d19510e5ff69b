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
