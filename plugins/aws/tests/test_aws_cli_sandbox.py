"""``qengine run examples/aws-eks/job.json --sandbox`` through the real command line."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from aws_support import run_qengine
from qengine_aws.sandbox import SANDBOX_CREDENTIALS

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def test_sandbox_run_creates_the_stand_in_cluster_and_says_it_is_a_sandbox(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    result = run_qengine(
        tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state, "--output", "json"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SANDBOX" in result.stderr
    assert "127.0.0.1 - -" not in result.stderr  # the moto request log stays quiet
    outcome = json.loads(result.stdout)
    assert outcome["status"] == "succeeded"
    assert [s["step_id"] for s in outcome["steps"]][:4] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.apply",
        "addons.crds",  # then the add-on stack, from the test charts (docs/addons.md)
    ]
    again = run_qengine(tmp_path, "run", str(EXAMPLE), "--sandbox", "--state-dir", state)
    assert again.returncode == 0  # the journal says it finished: nothing is redone


def test_sandbox_outputs_point_at_the_simulator_and_hold_no_token(tmp_path: Path) -> None:
    result = run_qengine(
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


def _job_file(tmp: Path, action: str, number: int = 1) -> str:
    document = json.loads(EXAMPLE.read_text())
    document["action"] = action
    document["id"] = f"eks-prod-{action}-{number:04d}"
    path = tmp / f"{action}-{number}.json"
    path.write_text(json.dumps(document))
    return str(path)


def _run_jobs(tmp: Path, *specs: str) -> tuple[Any, str]:
    """``qengine run SPEC... --sandbox``: the jobs share one sandbox session (one moto)."""
    secrets = EXAMPLE.with_name("secrets.json")
    result = run_qengine(
        tmp,
        "run",
        *specs,
        "--sandbox",
        "--secrets",
        str(secrets),
        "--state-dir",
        str(tmp / "state"),
        "--output",
        "json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), result.stderr


def _sizes(outputs: dict[str, str], group: str) -> tuple[str, str, str]:
    return (outputs[f"{group}.min"], outputs[f"{group}.max"], outputs[f"{group}.desired"])


def test_sandbox_pause_alone_registers_its_stand_ins_at_zero(tmp_path: Path) -> None:
    # A session that starts with a pause: EKS knows no node group yet, so nothing is saved,
    # and the apply registers the stand-ins, paused, in moto's EKS.
    outcome, stderr = _run_jobs(tmp_path, _job_file(tmp_path, "pause"))
    assert outcome["status"] == "succeeded"
    assert [s["step_id"] for s in outcome["steps"]] == [
        "aws.preflight",
        "aws.state-backend",
        "aws.save-node-group-sizes",
        "aws.scale-node-groups",
        "aws.apply",
    ]
    assert "EKS has no node group of prod-eu yet: no size to save" in stderr
    registered = "SANDBOX stand-in (moto's EKS, nothing on AWS): registered the node group"
    assert f"{registered} general-" in stderr
    assert "(min 0, max 6, desired 0)" in stderr


def test_sandbox_create_pause_pause_resume_in_one_session(tmp_path: Path) -> None:
    create, pause, again, resume = (
        _job_file(tmp_path, "create"),
        _job_file(tmp_path, "pause", 1),
        _job_file(tmp_path, "pause", 2),
        _job_file(tmp_path, "resume"),
    )
    results, stderr = _run_jobs(tmp_path, create, pause, again, resume)
    assert [r["status"] for r in results] == ["succeeded"] * 4
    # Every size below was read from moto's EKS (DescribeNodegroup) by the step.
    first = results[1]["outputs"]
    assert _sizes(first["aws.save-node-group-sizes"], "general") == ("2", "6", "3")
    assert _sizes(first["aws.scale-node-groups"], "general") == ("0", "6", "0")
    assert _sizes(first["aws.scale-node-groups"], "spot") == ("0", "10", "0")
    assert "saved the size of the node group general: min 2, max 6, desired 3" in stderr
    second = results[2]["outputs"]
    assert _sizes(second["aws.save-node-group-sizes"], "general") == ("2", "6", "3")
    assert "sizes saved by the first pause are kept" in stderr
    restored = results[3]["outputs"]
    assert _sizes(restored["aws.restore-node-group-sizes"], "general") == ("2", "6", "3")
    assert _sizes(restored["aws.forget-node-group-sizes"], "general") == ("2", "6", "3")
    assert "deleted the saved node group sizes" in stderr


def test_export_writes_the_real_module_without_secrets(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_qengine(tmp_path, "export", str(EXAMPLE), "--out-dir", str(out))
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
    result = run_qengine(tmp_path, "run", str(EXAMPLE), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "carries no sealed secrets" in result.stderr
