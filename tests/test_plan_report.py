"""The plan report: steps done by an earlier run (as the runner restores them), steps whose
target answered, steps not known (offline), in words and as JSON with the same facts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from e2e.support import recorded, run_qengine, write_job

from qengine.runner import Change, ChangeAction, Plan, Step, StepContext
from qengine.runner.plan import (
    OFFLINE,
    FieldDiff,
    ObjectDiff,
    PlanReport,
    PlanStepState,
    StepPreview,
    Verdict,
    done_steps,
)


def _nothing(ctx: StepContext) -> Mapping[str, str]:
    return {}


def _step(step_id: str, *after: str, content: str = "") -> Step:
    return Step(
        id=step_id,
        run=_nothing,
        depends_on=after,
        content_hash=content,
        changes=(Change(action=ChangeAction.UPDATE, kind="Thing", name=step_id),),
    )


def test_done_steps_are_those_the_runner_would_restore() -> None:
    plan = Plan([_step("a"), _step("b", "a"), _step("c", "b"), _step("d")])
    keys = {s.id: s.key_for("job") for s in plan.steps}
    records = [
        ("a", keys["a"], True),
        ("b", "an-older-key", True),  # the step changed since: it runs again
        ("c", keys["c"], True),  # done, but after a step that runs again: runs again too
        ("d", keys["d"], False),  # failed
    ]
    assert done_steps(plan, records, "job") == ["a"]
    assert done_steps(plan, records, "another-job") == []


def test_report_in_words_and_json() -> None:
    plan = Plan([_step("a"), _step("b", "a"), _step("c", "a"), _step("d")])
    update = ObjectDiff(
        action=Verdict.UPDATE,
        kind="Deployment",
        name="web",
        fields=(FieldDiff(path="spec.replicas", before="1", after="3"),),
    )
    previews = {
        "b": StepPreview(
            objects=(update, ObjectDiff(action=Verdict.CREATE, kind="Service", name="web"))
        ),
        "c": StepPreview(objects=(ObjectDiff(action=Verdict.UNCHANGED, kind="Secret", name="s"),)),
    }
    report = PlanReport(plan, previews, done=["a"])
    states = {r.step.id: r.state for r in report.steps}
    assert states == {
        "a": PlanStepState.DONE,
        "b": PlanStepState.KNOWN,
        "c": PlanStepState.KNOWN,
        "d": PlanStepState.UNKNOWN,
    }
    text = report.render()
    assert "done by an earlier run; `run` would skip it" in text
    assert "~ update Deployment web\n           spec.replicas: 1 -> 3" in text
    assert "+ create Service web" in text
    assert "= unchanged Secret s" in text
    assert f"{OFFLINE} (its plugin does not preview changes)\n       ? Thing d" in text
    assert text.splitlines()[-1] == (
        "Plan: 1 to create, 1 to update, 0 to delete, 1 unchanged; 1 step done by an earlier "
        f"run; 1 step not known ({OFFLINE})."
    )
    data = report.to_json()
    assert data["summary"] == {
        "create": 1,
        "update": 1,
        "delete": 0,
        "unchanged": 1,
        "steps_done": 1,
        "steps_unknown": 1,
    }
    steps = {s["id"]: s for s in data["steps"]}
    assert steps["b"]["changes"][0]["fields"] == [
        {"path": "spec.replicas", "before": "1", "after": "3"}
    ]
    unknown: list[object] = list(steps["d"]["changes"])
    assert unknown == [
        {"action": "unknown", "kind": "Thing", "name": "d", "fields": [], "note": ""}
    ]
    assert steps["a"]["state"] == "done"
    assert steps["a"]["changes"] == []


def test_offline_reason_is_given_for_every_step_not_done() -> None:
    plan = Plan([_step("a"), _step("b", "a")])
    report = PlanReport(plan, {}, done=["a"], offline="--offline")
    assert [r.preview.unknown for r in report.steps] == ["", "--offline"]
    assert f"{OFFLINE} (--offline)" in report.render()


def test_cli_plan_of_a_job_that_ran_says_run_would_skip_it(tmp_path: Path) -> None:
    state = ["--state-dir", str(tmp_path / "state")]
    spec = write_job(tmp_path, "a; b <- a")
    before = run_qengine(tmp_path, "plan", str(spec), *state, "-o", "json")
    assert before.returncode == 0, before.stderr
    planned = json.loads(before.stdout)
    assert {s["state"] for s in planned["steps"]} == {"unknown"}
    assert run_qengine(tmp_path, "run", str(spec), *state).returncode == 0
    ran = recorded(tmp_path)

    after = run_qengine(tmp_path, "plan", str(spec), *state)
    assert after.returncode == 0, after.stderr
    assert after.stdout.count("done by an earlier run; `run` would skip it") == 2
    assert "2 steps done by an earlier run" in after.stdout
    assert recorded(tmp_path) == ran  # planning ran nothing
