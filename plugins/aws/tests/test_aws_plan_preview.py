"""``qengine plan`` of an AWS create asks AWS and Terraform (the sandbox's moto and the real
terraform): everything to create at first, unchanged after a run, the attributes a spec change
changes; done steps from the journal; the job's secret never shown."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from qengine import Engine, SandboxSession, load_plugins
from qengine.runner import JobStatus, MemoryStateStore
from qengine.runner.plan import PlanReport, PlanStepState, Verdict

INFRA = Path(__file__).resolve().parents[3] / "examples" / "aws-eks" / "job.json"
SECRETS: dict[str, str] = json.loads(INFRA.with_name("secrets.json").read_text())
RESOURCES = 5  # the sandbox blueprint's stand-ins: VPC, cluster, two node groups, secrets key


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


def test_aws_plan_asks_aws_and_terraform() -> None:
    engine = Engine(
        load_plugins(strict=True, environ={"QENGINE_PLUGINS": "aws"}), store=MemoryStateStore()
    )
    with SandboxSession() as session:

        def plan(document: dict[str, Any]) -> PlanReport:
            accepted = engine.accept(
                document, sandbox_secrets=SECRETS, consume=False, sandbox=session
            )
            return engine.preview(accepted, engine.plan(accepted))

        first = plan(_document("create-1"))
        assert first.summary()["create"] == RESOURCES + 3  # and the KMS key, bucket, lock table
        assert {a for a, _ in _objects(first, "aws.state-backend").values()} == {Verdict.CREATE}
        assert {a for a, _ in _objects(first, "aws.apply").values()} == {Verdict.CREATE}

        created = engine.run(_document("create-1"), sandbox_secrets=SECRETS, sandbox=session)
        assert created.status is JobStatus.SUCCEEDED, created.error

        again = plan(_document("create-1"))
        assert {r.state for r in again.steps} == {PlanStepState.DONE}

        fresh = plan(_document("create-2"))
        assert fresh.summary() == {
            "create": 0,
            "update": 0,
            "delete": 0,
            "unchanged": RESOURCES + 3,
            "steps_done": 0,
            "steps_unknown": 0,
        }

        changed = _document("create-3")
        provider = changed["cluster"]["provider"]
        provider["node_groups"][0]["desired_size"] = 4
        provider["tags"]["team"] = "infra"
        report = plan(copy.deepcopy(changed))
        applied = _objects(report, "aws.apply")
        verdict, fields = applied["terraform_data.node_group_general"]
        assert verdict is Verdict.UPDATE
        assert fields["input.desired_size"] == ("3", "4")
        verdict, fields = applied["terraform_data.vpc"]
        assert verdict is Verdict.UPDATE
        assert fields["input.tags.team"] == ('"platform"', '"infra"')
        assert applied["terraform_data.node_group_spot"][0] is Verdict.UNCHANGED
        text = report.render() + json.dumps(report.to_json())
        for value in SECRETS.values():
            assert value not in text
