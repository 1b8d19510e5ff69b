"""``qengine run --sandbox`` of the AKS examples through the CLI, as a user runs it: the real
terraform on the azurerm backend against Azurite (over HTTPS, through the local metadata host
and proxy), the stand-in Resource Manager and Entra ID, the cluster's API on the Kubernetes
simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure_support import DEMO_SECRET, EXAMPLES, QUICKSTART, run_qengine

pytestmark = pytest.mark.slow


def _job(tmp: Path, action: str, number: int) -> Path:
    document = json.loads((EXAMPLES / "job.json").read_text())
    document["id"] = f"aks-cli-{action}-{number:04d}"
    document["action"] = action
    path = tmp / f"{action}-{number}.json"
    path.write_text(json.dumps(document))
    (tmp / "secrets.json").write_text((EXAMPLES / "secrets.json").read_text())
    return path


def test_the_documented_sandbox_command_succeeds(tmp_path: Path, azurite_binary: Path) -> None:
    result = run_qengine(
        tmp_path,
        "run",
        str(EXAMPLES / "job.json"),
        str(QUICKSTART),
        "--sandbox",
        azurite=azurite_binary,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "Job aks-prod-create-0001 succeeded" in output
    assert "Job quickstart-0001 succeeded" in output
    assert "created the storage account acmeqestateweu" in output
    assert "turned on blob versioning and 30-day soft delete" in output
    assert DEMO_SECRET not in output


def test_create_pause_resume_delete_in_one_session(tmp_path: Path, azurite_binary: Path) -> None:
    jobs = [_job(tmp_path, action, 1) for action in ("create", "pause", "resume", "delete")]
    result = run_qengine(
        tmp_path, "run", *map(str, jobs), "--sandbox", timeout=900, azurite=azurite_binary
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for action in ("create", "pause", "resume", "delete"):
        assert f"Job aks-cli-{action}-0001 succeeded" in output
    assert "stopped the AKS cluster prod-weu" in output
    assert "started the AKS cluster prod-weu" in output
    assert "azure.destroy" in output
    assert DEMO_SECRET not in output


def test_pause_of_a_cluster_that_does_not_exist_is_refused(
    tmp_path: Path, azurite_binary: Path
) -> None:
    result = run_qengine(
        tmp_path, "run", str(_job(tmp_path, "pause", 2)), "--sandbox", azurite=azurite_binary
    )
    # A step's failure fails the job (exit code 1), its error naming what is missing.
    assert result.returncode == 1, result.stderr[-3000:]
    assert "the AKS cluster prod-weu does not exist in rg-prod-weu" in result.stderr
    assert "Create the cluster first" in result.stderr


def test_plan_lists_the_steps_offline(tmp_path: Path) -> None:
    # A job without secrets (workload identity) plans without sealing and without Azure.
    document = json.loads((EXAMPLES / "pause.json").read_text())
    provider = document["cluster"]["provider"]
    provider.pop("client_secret")
    provider["workload_identity"] = True
    path = tmp_path / "pause.json"
    path.write_text(json.dumps(document))
    result = run_qengine(tmp_path, "plan", str(path), plugins="azure")
    assert result.returncode == 0, result.stderr
    for step in ("azure.preflight", "azure.state-backend", "azure.stop"):
        assert step in result.stdout
