"""``qengine run examples/aws-eks/job.json QUICKSTART --sandbox`` with the quickstart's target
asking for Gateway API routing: the stack installed by the first job (from the test charts)
serves the router through the environment's Gateway, with its certificate issued by
cert-manager's gateway-shim, all played by the simulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from aws_support import run_qengine

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

pytestmark = pytest.mark.slow


def test_sandbox_stack_serves_a_gateway_routed_quickstart(tmp_path: Path) -> None:
    quickstart = json.loads((EXAMPLES / "quickstart" / "job.json").read_text())
    quickstart["target"] = {"kind": "sandbox", "routing": "gateway"}
    variant = tmp_path / "quickstart-gateway" / "job.json"
    variant.parent.mkdir()
    variant.write_text(json.dumps(quickstart))
    shutil.copy(EXAMPLES / "quickstart" / "secrets.json", variant.with_name("secrets.json"))
    result = run_qengine(
        tmp_path,
        "run",
        str(EXAMPLES / "aws-eks" / "job.json"),
        str(variant),
        "--sandbox",
        "--state-dir",
        str(tmp_path / "state"),
        "--output",
        "json",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    infra, environment = json.loads(result.stdout)
    assert infra["status"] == "succeeded"
    assert environment["status"] == "succeeded"
    steps = {s["step_id"]: s["status"] for s in environment["steps"]}
    assert steps["kubernetes/service/public"] == "succeeded"
    # The router's step says so only once the cluster kept each promise: the Gateway of the
    # stack's class Programmed, the route Accepted with its refs resolved, and the
    # certificate cert-manager's gateway-shim made Ready.
    assert "public: route accepted by gateway qengine-gateway" in result.stderr
