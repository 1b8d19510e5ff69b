"""``qengine export`` of a GCP job writes the real root module, and no secret."""

from __future__ import annotations

import json
from pathlib import Path

from gcp_support import example, run_qengine
from qengine_gcp.sandbox import SANDBOX_TOKEN


def test_export_writes_the_real_module_backend_and_readme(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_qengine(tmp_path, "export", str(_spec(tmp_path)), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    target = out / "terraform" / "gcp"
    module = json.loads((target / "main.tf.json").read_text())
    assert set(module["module"]) == {"vpc", "gke"}
    assert module["module"]["gke"]["source"].endswith("//modules/private-cluster")
    assert module["terraform"]["backend"] == {"gcs": {}}
    written = json.dumps(module)
    assert "terraform_data" not in written
    assert "127.0.0.1" not in written
    backend = json.loads((target / "backend.tfbackend.json").read_text())
    assert backend == {
        "bucket": "acme-qengine-state-europe-west1",
        "prefix": "qengine/cluster-prod-europe",
    }
    variables = json.loads((target / "terraform.tfvars.json").read_text())
    assert variables["project_id"] == "acme-platform-prod"
    readme = (target / "README.md").read_text()
    assert "qengine-deployer@acme-platform-prod.iam.gserviceaccount.com" in readme
    blueprint = "".join(p.read_text() for p in target.iterdir())
    assert "ci_oidc_token" not in blueprint  # not even the secret's name
    everything = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert SANDBOX_TOKEN not in everything
    assert "BEGIN CERTIFICATE" not in everything


def _spec(tmp: Path) -> Path:
    document = example()
    document["cluster"]["provider"]["workload_identity"] = {
        "audience": "//iam.googleapis.com/projects/123/locations/global/"
        "workloadIdentityPools/ci-pool/providers/github",
        "subject_token": {"secret": "ci_oidc_token"},
    }
    path = tmp / "job.json"
    path.write_text(json.dumps(document))
    return path
