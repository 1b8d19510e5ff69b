"""``qengine export`` of the AWS example: the real root module, backend, variables, README."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qengine_aws.modules import EKS, pinned

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"


def _export(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "QENGINE_PLUGINS": "aws",
    }
    subprocess.run(
        [sys.executable, "-m", "qengine", "export", str(EXAMPLE), "--out-dir", str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out / "terraform" / "aws"


def test_export_writes_the_real_module_backend_variables_and_readme(tmp_path: Path) -> None:
    target = _export(tmp_path)
    assert sorted(p.name for p in target.iterdir()) == [
        "README.md",
        "backend.tfbackend.json",
        "main.tf.json",
        "terraform.tfvars.json",
    ]
    main = json.loads((target / "main.tf.json").read_text())
    assert main["module"]["eks"]["version"] == pinned(EKS).version
    assert "terraform_data" not in json.dumps(main)
    backend = json.loads((target / "backend.tfbackend.json").read_text())
    assert backend == {
        "bucket": "acme-qengine-state-eu-west-3",
        "key": "qengine/cluster-prod-eu/terraform.tfstate",
        "region": "eu-west-3",
        "dynamodb_table": "qengine-terraform-locks",
        "encrypt": True,
    }
    variables = json.loads((target / "terraform.tfvars.json").read_text())
    assert variables == {
        "region": "eu-west-3",
        "cluster_name": "prod-eu",
        "kubernetes_version": "1.32",
    }
    readme = (target / "README.md").read_text()
    assert "terraform init -backend-config=backend.tfbackend.json" in readme
    assert "arn:aws:iam::123456789012:role/qengine-deployer" in readme


def test_export_holds_no_secret_reference_or_credential(tmp_path: Path) -> None:
    target = _export(tmp_path)
    text = "".join(p.read_text() for p in target.iterdir())
    assert "aws_external_id" not in text
    assert '"secret"' not in text
    assert "AWS_SECRET_ACCESS_KEY=" not in text
