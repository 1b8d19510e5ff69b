"""``qengine plan`` of a GCP create asks Google Cloud and Terraform (the sandbox's stand-ins
and the real terraform): everything to create at first, unchanged after a run, the attributes
a spec change changes; done steps from the journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qengine import Engine, SandboxSession, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.runner.plan import PlanReport, PlanStepState, Verdict

INFRA = Path(__file__).resolve().parents[3] / "examples" / "gke" / "job.json"
RESOURCES = 5  # the sandbox blueprint's stand-ins: network, NAT, cluster, two node pools


def _document(job_id: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(INFRA.read_text())
    document["id"] = job_id
    document["cluster"]["addons"] = {"manage": False}  # no helm: the plan of the cluster only
    return document


def _objects(report: PlanReport, step_id: str) -> dict[str, tuple[Verdict, dict[str, Any]]]:
    step = next(r for r in report.steps if r.step.id == step_id)
    assert step.state is PlanStepState.KNOWN, step.preview.unknown
    return {
        o.name: (o.action, {f.path: (f.before, f.after) for f in o.fields})
        for o in step.preview.objects
    }


def test_gcp_plan_asks_google_and_terraform() -> None:
    engine = Engine(
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "gcp"}), store=MemoryStateStore()
    )
    with SandboxSession() as session:

        def plan(document: dict[str, Any]) -> PlanReport:
            accepted = engine.accept(document, sandbox_secrets={}, consume=False, sandbox=session)
            return engine.preview(accepted, engine.plan(accepted))

        first = plan(_document("create-1"))
        assert first.summary()["create"] == RESOURCES + 1  # and the state bucket
        assert {a for a, _ in _objects(first, "gcp.apply").values()} == {Verdict.CREATE}

        created = engine.run(_document("create-1"), sandbox_secrets={}, sandbox=session)
        assert created.status is JobStatus.SUCCEEDED, created.error

        assert {r.state for r in plan(_document("create-1")).steps} == {PlanStepState.DONE}
        fresh = plan(_document("create-2"))
        assert fresh.summary()["unchanged"] == RESOURCES + 1
        assert fresh.summary()["create"] + fresh.summary()["update"] == 0

        changed = _document("create-3")
        changed["cluster"]["provider"]["node_pools"][0]["max_nodes"] = 5
        applied = _objects(plan(changed), "gcp.apply")
        verdict, fields = applied["terraform_data.node_pool_general"]
        assert verdict is Verdict.UPDATE
        assert fields["input.max_count"] == ("4", "5")
        assert applied["terraform_data.node_pool_spot"][0] is Verdict.UNCHANGED
