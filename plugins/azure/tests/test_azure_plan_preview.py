"""``qengine plan`` of an Azure create asks Azure and Terraform (the sandbox's stand-ins and
the real terraform): everything to create at first, unchanged after a run, the attributes a
spec change changes; done steps from the journal; the job's secret never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qengine import Engine, SandboxSession, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.runner.plan import PlanReport, PlanStepState, Verdict

INFRA = Path(__file__).resolve().parents[3] / "examples" / "aks" / "job.json"
SECRETS: dict[str, str] = json.loads(INFRA.with_name("secrets.json").read_text())
RESOURCES = 4  # the sandbox blueprint's stand-ins: resource group, network, cluster, spot pool
STATE_OBJECTS = 3  # the state's resource group, storage account and container


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


def test_azure_plan_asks_azure_and_terraform() -> None:
    engine = Engine(
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "azure"}), store=MemoryStateStore()
    )
    with SandboxSession() as session:

        def plan(document: dict[str, Any]) -> PlanReport:
            accepted = engine.accept(
                document, sandbox_secrets=SECRETS, consume=False, sandbox=session
            )
            return engine.preview(accepted, engine.plan(accepted))

        first = plan(_document("create-1"))
        assert first.summary()["create"] == RESOURCES + STATE_OBJECTS
        assert {a for a, _ in _objects(first, "azure.apply").values()} == {Verdict.CREATE}

        created = engine.run(_document("create-1"), sandbox_secrets=SECRETS, sandbox=session)
        assert created.status is JobStatus.SUCCEEDED, created.error

        assert {r.state for r in plan(_document("create-1")).steps} == {PlanStepState.DONE}
        fresh = plan(_document("create-2"))
        assert fresh.summary()["unchanged"] == RESOURCES + STATE_OBJECTS
        assert fresh.summary()["create"] + fresh.summary()["update"] == 0

        changed = _document("create-3")
        changed["cluster"]["provider"]["node_pools"][1]["max_count"] = 8
        report = plan(changed)
        verdict, fields = _objects(report, "azure.apply")["terraform_data.node_pool_spot"]
        assert verdict is Verdict.UPDATE
        assert fields["input.max_count"] == ("6", "8")
        text = report.render() + json.dumps(report.to_json())
        for value in SECRETS.values():
            assert value not in text
