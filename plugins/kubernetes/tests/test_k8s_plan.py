"""Plans of environment jobs on Kubernetes targets: a step per service in stage order, and
steps of a sandbox job that refuse to run outside a sandbox run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qengine_kubernetes.steps import NAMESPACE_STEP, step_id

from qengine import Engine, InvalidInputError, PluginSet
from qengine.cli import main
from qengine.interfaces.cancel import CancelToken
from qengine.runner import ChangeAction, MemoryStateStore, StepContext
from qengine.runner.plan import Plan
from qengine.spec import secret_references

ROOT = Path(__file__).resolve().parents[3]
QUICKSTART = ROOT / "examples" / "quickstart" / "job.json"
Example = Callable[[str], dict[str, Any]]


def _plan(plugins: PluginSet, doc: dict[str, Any]) -> Plan:
    engine = Engine(plugins, store=MemoryStateStore())
    references = secret_references(plugins.loader.load(doc))
    secrets = {name: f"demo-value-of-{name}" for _, name in references}
    return engine.plan(engine.accept(doc, sandbox_secrets=secrets, consume=False))


def test_k8s_quickstart_plan_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["plan", str(QUICKSTART), "--sandbox", "--state-dir", str(tmp_path), "-o", "json"])
    assert code == 0
    plan = json.loads(capsys.readouterr().out)
    steps = {s["id"]: s for s in plan["steps"]}
    assert next(iter(steps)) == NAMESPACE_STEP
    assert set(steps[step_id("web")]["depends_on"]) == {
        NAMESPACE_STEP,
        step_id("db"),
        step_id("migrate"),
    }
    assert set(steps[step_id("public")]["depends_on"]) >= {step_id("web"), step_id("worker")}
    changes = {(c["kind"], c["name"]) for c in steps[step_id("web")]["changes"]}
    assert changes == {
        ("Deployment", "web"),
        ("Service", "web"),
        ("ServiceAccount", "web"),
        ("HorizontalPodAutoscaler", "web"),
        ("Secret", "web-env"),
    }
    # The sandbox's cluster starts empty: the plan asked it, and everything is to create.
    assert {c["action"] for s in plan["steps"] for c in s["changes"]} == {"create"}


def test_k8s_sandbox_steps_refuse_to_run_outside_a_sandbox(
    k8s_plugins: PluginSet, example: Example
) -> None:
    plan = _plan(k8s_plugins, example("quickstart"))
    ctx = StepContext(
        job_id="j",
        organization_id="o",
        target_id="t",
        step_id=step_id("web"),
        idempotency_key="k",
        cancel=CancelToken(),
    )
    for step in plan.steps:
        if "managed database" in step.description:
            continue
        with pytest.raises(InvalidInputError, match="sandbox target runs only with --sandbox"):
            step.run(ctx)


def test_k8s_delete_plan_reverses_and_deletes_the_namespace_last(
    k8s_plugins: PluginSet, example: Example
) -> None:
    doc = example("quickstart")
    doc["action"] = "delete"
    plan = _plan(k8s_plugins, doc)
    steps = {s.id: s for s in plan.steps}
    assert step_id("public") in steps[step_id("web")].depends_on
    assert step_id("web") in steps[step_id("db")].depends_on
    assert set(steps[NAMESPACE_STEP].depends_on) == {s for s in steps if s != NAMESPACE_STEP}
    actions = {c.action for s in plan.steps for c in s.changes}
    assert actions == {ChangeAction.DELETE}


def test_k8s_pause_plan_lists_only_workloads(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("quickstart")
    doc["action"] = "pause"
    plan = _plan(k8s_plugins, doc)
    kinds = {c.kind for s in plan.steps for c in s.changes}
    assert kinds == {"Deployment", "StatefulSet", "CronJob"}
    assert NAMESPACE_STEP not in {s.id for s in plan.steps}


def test_k8s_plan_of_some_services(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("quickstart")
    doc["services"] = ["web", "public"]
    plan = _plan(k8s_plugins, doc)
    steps = {s.id: s for s in plan.steps}
    assert set(steps) == {NAMESPACE_STEP, step_id("web"), step_id("public")}
    assert steps[step_id("public")].depends_on == (NAMESPACE_STEP, step_id("web"))


def test_k8s_plan_says_what_is_not_rendered(k8s_plugins: PluginSet, example: Example) -> None:
    doc = example("all-kinds")
    doc["services"] = []
    plan = _plan(k8s_plugins, doc)
    steps = {s.id: s for s in plan.steps}
    assert "managed database" in steps[step_id("cache-db")].description
    assert steps[step_id("cache-db")].changes == ()
    helm = steps[step_id("redis-cache")]
    assert [(c.kind, c.name) for c in helm.changes] == [("HelmRelease", "redis-cache")]
    assert "not supported" in steps[step_id("buckets")].description
    assert step_id("on-delete") not in steps, "on_delete hooks run only on deletion"
