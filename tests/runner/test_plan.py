"""Plans: validation of the DAG, order, and descriptions."""

from __future__ import annotations

import json

import pytest

from qengine._errors import InvalidInputError
from qengine.runner.plan import Plan
from qengine.testing.steps import StepFactory, build_plan


def test_order_is_topological_and_stable(factory: StepFactory) -> None:
    plan = build_plan(factory, "d <- b,c; b <- a; c <- a; a; e")
    order = [step.id for step in plan.steps]
    assert order == ["a", "b", "c", "d", "e"]
    assert plan.dependents["a"] == ("b", "c")


def test_duplicate_ids_are_refused_by_name(factory: StepFactory) -> None:
    with pytest.raises(InvalidInputError, match=r"duplicate step ids: a$"):
        build_plan(factory, "a; b; a")


def test_dangling_dependency_is_refused_naming_both(factory: StepFactory) -> None:
    with pytest.raises(InvalidInputError, match=r"b -> ghost"):
        build_plan(factory, "a; b <- ghost")


def test_cycle_is_refused_naming_its_steps(factory: StepFactory) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build_plan(factory, "a; b <- a,d; c <- b; d <- c; e <- d")
    message = caught.value.message
    assert message == "steps form a cycle: b -> d -> c -> b"
    assert caught.value.hint


def test_self_dependency_is_a_cycle(factory: StepFactory) -> None:
    with pytest.raises(InvalidInputError, match="a -> a"):
        build_plan(factory, "a <- a")


def test_json_description_lists_steps_deps_and_changes(factory: StepFactory) -> None:
    plan = build_plan(factory, "a; b:fail <- a")
    described = plan.to_json()
    assert json.loads(json.dumps(described)) == described
    assert described["steps"][1] == {
        "id": "b",
        "description": "test step b (fail)",
        "depends_on": ["a"],
        "changes": [{"action": "create", "kind": "test-resource", "name": "b"}],
        "timeout": None,
    }
    assert described["summary"] == {"create": 2, "update": 0, "delete": 0}


def test_rendering_names_every_step_and_change(factory: StepFactory) -> None:
    text = build_plan(factory, "a; b <- a").render()
    assert "2. b (after a)" in text
    assert "+ create test-resource b" in text
    assert text.endswith("Plan: 2 to create, 0 to update, 0 to delete")


def test_empty_plan_is_valid() -> None:
    assert len(Plan([])) == 0


def test_step_ids_must_be_words(factory: StepFactory) -> None:
    with pytest.raises(ValueError, match="step id"):
        factory.step("has space")


def test_idempotency_key_depends_on_job_step_and_content(factory: StepFactory) -> None:
    plan_a = build_plan(factory, "a")
    plan_b = build_plan(factory, "a:fail")
    key = plan_a.step("a").key_for("job-1")
    assert key == plan_a.step("a").key_for("job-1")
    assert key != plan_a.step("a").key_for("job-2")
    assert key != plan_b.step("a").key_for("job-1")
