"""``qengine run examples/aws-eks/job.json --sandbox`` through the real command line."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qengine_aws.sandbox import SANDBOX_CREDENTIALS

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def _qengine(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "LANG": "C.UTF-8"}
    # The code under test, also when it is not the installed copy (a worktree on PYTHONPATH).
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return subprocess.run(
        [sys.executable, "-m", "qengine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_sandbox_run_creates_the_stand_in_cluster_and_says_it_is_a_sandbox(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    result = _qengine(
        tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state, "--output", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SANDBOX" in result.stderr
    assert "127.0.0.1 - -" not in result.stderr  # the moto request log stays quiet
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    assert [s["step_id"] for s in outcome["steps"]] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.apply",
    ]
    again = _qengine(tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state)
    assert again.returncode == 0  # the journal says it finished: nothing is redone


def test_sandbox_outputs_point_at_the_simulator_and_hold_no_token(tmp_path: Path) -> None:
    result = _qengine(
        tmp_path,
        "run",
        str(EXAMPLE),
        "--sandbox",
        "--state-dir",
        str(tmp_path / "state"),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout)["outputs"]["aws.apply"]
    endpoint = outputs["endpoint"]
    assert endpoint.startswith("https://127.0.0.1:")
    assert endpoint != "https://127.0.0.1:6443"  # the simulator's free port, not a default
    assert outputs["oidc_issuer_url"] == f"{endpoint}/id/cluster-prod-eu"
    assert outputs["cluster_name"] == "prod-eu"
    ca = base64.b64decode(outputs["certificate_authority"]).decode()
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    assert not any("token" in name for name in outputs)
    assert "k8s-aws-v1." not in result.stdout + result.stderr


def _job_file(tmp: Path, action: str) -> Path:
    document = json.loads(EXAMPLE.read_text())
    document["action"] = action
    document["id"] = f"eks-prod-{action}-0001"
    path = tmp / f"{action}.json"
    path.write_text(json.dumps(document))
    return path


def _run_action(tmp: Path, action: str) -> tuple[dict[str, Any], str]:
    secrets = EXAMPLE.with_name("secrets.json")
    result = _qengine(
        tmp,
        "run",
        str(_job_file(tmp, action)),
        "--sandbox",
        "--secrets",
        str(secrets),
        "--state-dir",
        str(tmp / "state"),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    return outcome, result.stderr


def test_sandbox_pause_leaves_moto_node_groups_at_zero(tmp_path: Path) -> None:
    # Each `qengine run --sandbox` has its own moto: this pause finds no node group in EKS,
    # and its apply registers the stand-ins, paused, in moto's EKS.
    outcome, stderr = _run_action(tmp_path, "pause")
    assert [s["step_id"] for s in outcome["steps"]] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.save-node-group-sizes",
        "aws.scale-node-groups",
        "aws.apply",
    ]
    assert "EKS has no node group of prod-eu yet: no size to save" in stderr
    assert "SANDBOX stand-in (moto's EKS, nothing on AWS): registered the node group general-" in (
        stderr
    )
    assert "(min 0, max 6, desired 0)" in stderr


def test_sandbox_resume_reads_the_sizes_back_from_moto(tmp_path: Path) -> None:
    outcome, _ = _run_action(tmp_path, "resume")
    assert [s["step_id"] for s in outcome["steps"]][2:] == [
        "aws.restore-node-group-sizes",
        "aws.apply",
        "aws.forget-node-group-sizes",
    ]
    # Read from moto's EKS (DescribeNodegroup) after the apply: nothing was saved in this
    # process, so the job's sizes.
    assert outcome["outputs"]["aws.forget-node-group-sizes"] == {
        "general.min": "2",
        "general.max": "6",
        "general.desired": "3",
        "spot.min": "0",
        "spot.max": "10",
        "spot.desired": "0",
    }


def test_export_writes_the_real_module_without_secrets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _qengine(tmp_path, "export", str(EXAMPLE), "-o", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    module = json.loads((out / "terraform" / "aws" / "main.tf.json").read_text())
    assert set(module["module"]) >= {"vpc", "eks"}
    assert "terraform_data" not in json.dumps(module)
    assert "127.0.0.1" not in json.dumps(module)
    blueprint = "".join(p.read_text() for p in (out / "terraform" / "aws").iterdir())
    assert "aws_external_id" not in blueprint  # not even the secret's name
    written = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert SANDBOX_CREDENTIALS[1] not in written
    assert "BEGIN CERTIFICATE" not in written


def test_run_without_sandbox_needs_sealed_secrets(tmp_path: Path) -> None:
    result = _qengine(tmp_path, "run", str(EXAMPLE), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "carries no sealed secrets" in result.stderr
