"""``qengine run ... --sandbox`` with GCP jobs through the real command line: the stand-in
cluster made by the real terraform on the gcs backend (a local fake-gcs-server), the
quickstart deployed onto it through the Kubernetes simulator, create then delete."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from gcp_support import EXAMPLE, QUICKSTART, example, run_qengine
from qengine_gcp.sandbox import SANDBOX_TOKEN

pytestmark = pytest.mark.slow


def _job_file(tmp: Path, action: str, number: int = 1) -> str:
    document = example()
    document["action"] = action
    document["id"] = f"gke-prod-{action}-{number:04d}"
    path = tmp / f"{action}-{number}.json"
    path.write_text(json.dumps(document))
    return str(path)


def _run(tmp: Path, *specs: str) -> tuple[Any, str]:
    result = run_qengine(
        tmp, "run", *specs, "--sandbox", "--state-dir", str(tmp / "state"), "--output", "json",
        "--events", str(tmp / "events.jsonl"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), result.stderr


def test_the_cluster_then_the_quickstart_on_it(tmp_path: Path) -> None:
    outcomes, stderr = _run(tmp_path, str(EXAMPLE), str(QUICKSTART))
    assert [o["job_id"] for o in outcomes] == ["gke-prod-create-0001", "quickstart-0001"]
    assert [o["status"] for o in outcomes] == ["succeeded", "succeeded"]
    steps = [s["step_id"] for s in outcomes[0]["steps"]]
    assert steps[:3] == ["gcp.preflight", "gcp.state-backend", "gcp.apply"]
    # Then the cluster's add-on stack (test charts on the sandbox), CRDs first.
    assert steps[3] == "addons.crds"
    assert "addons.traefik" in steps
    assert all(s["status"] == "succeeded" for s in outcomes[0]["steps"])
    assert "SANDBOX: nothing is created on Google Cloud" in stderr
    outputs = outcomes[0]["outputs"]["gcp.apply"]
    assert outputs["endpoint"].startswith("https://127.0.0.1:")
    assert outputs["cluster_name"] == "prod-europe"
    assert outputs["cluster_version"] == "1.32"
    assert outputs["workload_identity_pool"] == "acme-platform-prod.svc.id.goog"
    ca = base64.b64decode(outputs["certificate_authority"]).decode()
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    deployed = {s["step_id"] for s in outcomes[1]["steps"]}
    assert "kubernetes/service/web" in deployed
    # The token never shows: not in outputs, events or the terminal.
    events = (tmp_path / "events.jsonl").read_text()
    assert SANDBOX_TOKEN not in json.dumps(outcomes) + stderr + events


def test_create_again_changes_nothing_and_delete_destroys(tmp_path: Path) -> None:
    create, again = _job_file(tmp_path, "create", 1), _job_file(tmp_path, "create", 2)
    delete = _job_file(tmp_path, "delete")
    outcomes, stderr = _run(tmp_path, create, again, delete)
    assert [o["status"] for o in outcomes] == ["succeeded"] * 3
    assert "Apply complete! Resources: 5 added" in stderr
    assert stderr.count("Resources: 5 added") == 1  # the second create found no change
    assert [s["step_id"] for s in outcomes[2]["steps"]] == [
        "gcp.preflight",
        "gcp.state-backend",
        "gcp.destroy",
    ]
    assert "gcp.destroy: Apply complete! Resources: 0 added, 0 changed, 5 destroyed." in stderr
    assert "deleted the cluster prod-europe" in stderr  # the local GKE stand-in's too


def test_upgrade_to_the_next_minor_then_refuses_a_skip(tmp_path: Path) -> None:
    create = _job_file(tmp_path, "create")
    document = example()
    document.update(action="upgrade", id="gke-prod-upgrade-0001")
    document["cluster"]["kubernetes_version"] = "1.33"
    upgrade = tmp_path / "upgrade.json"
    upgrade.write_text(json.dumps(document))
    outcomes, _ = _run(tmp_path, create, str(upgrade))
    assert outcomes[1]["outputs"]["gcp.apply"]["cluster_version"] == "1.33"
    # From 1.32, 1.34 skips a minor version: refused before anything changes.
    skipped = dict(document, id="gke-prod-upgrade-0002")
    skipped["cluster"] = dict(document["cluster"], kubernetes_version="1.34")
    path = tmp_path / "skip.json"
    path.write_text(json.dumps(skipped))
    result = run_qengine(
        tmp_path, "run", create, str(path), "--sandbox", "--state-dir", str(tmp_path / "s2")
    )
    assert result.returncode != 0
    assert "skips a minor version" in result.stderr


def test_run_without_sandbox_has_no_credentials_to_reach_google(tmp_path: Path) -> None:
    # No sandbox: terraform's sources are checked before any Google call, and the engine has
    # none, so the job is refused with nothing touched.
    result = run_qengine(tmp_path, "run", str(EXAMPLE), "--state-dir", str(tmp_path / "state"))
    assert result.returncode != 0
    assert "hashicorp/google" in result.stderr
