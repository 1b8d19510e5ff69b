"""The engine plans AWS jobs from the plugin's steps, without touching the network."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from qengine import Engine, load_plugins
from qengine.runner import MemoryStateStore

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
# The add-on stack the example turns on (create and upgrade end with it; docs/addons.md).
ADDONS = [
    "addons.crds",
    "addons.cert-manager",
    "addons.traefik",
    "addons.metrics-server",
    "addons.external-dns",
    "addons.cluster-autoscaler",
    "addons.cluster-issuers",
    "addons.loki",
    "addons.alloy",
    "addons.kube-prometheus-stack",
]


@pytest.mark.parametrize(
    ("action", "steps"),
    [
        ("create", ["aws.preflight", "aws.state-backend", "aws.apply", *ADDONS]),
        (
            "pause",
            [
                "aws.preflight",
                "aws.state-backend",
                "aws.save-node-group-sizes",
                "aws.scale-node-groups",
                "aws.apply",
            ],
        ),
        (
            "resume",
            [
                "aws.preflight",
                "aws.state-backend",
                "aws.restore-node-group-sizes",
                "aws.apply",
                "aws.forget-node-group-sizes",
            ],
        ),
        (
            "upgrade",
            [
                "aws.preflight",
                "aws.state-backend",
                "aws.upgrade-control-plane",
                "aws.upgrade-node-groups",
                *ADDONS,
            ],
        ),
        (
            "delete",
            ["aws.preflight", "aws.state-backend", "aws.cleanup-load-balancers", "aws.destroy"],
        ),
    ],
)
def test_each_action_plans_its_steps(action: str, steps: list[str]) -> None:
    document = copy.deepcopy(json.loads(EXAMPLE.read_text()))
    document["action"] = action
    engine = Engine(
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}), store=MemoryStateStore()
    )
    accepted = engine.accept(document, sandbox_secrets={"aws_external_id": "x"}, consume=False)
    plan = engine.plan(accepted)
    assert [step.id for step in plan.steps] == steps
