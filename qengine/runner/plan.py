"""A plan: a validated DAG of steps, in a stable topological order.

Building a :class:`Plan` refuses duplicate step ids, dependencies on steps that are not in
the plan, and cycles, each with an :class:`~qengine.InvalidInputError` naming the steps.
A plan describes itself as JSON (``qengine plan --output json``) and in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypedDict

from qengine._errors import InvalidInputError
from qengine.runner.steps import ChangeAction, Step

__all__ = ["ChangeJson", "Plan", "PlanJson", "StepJson"]

_HINT = "This is a defect of the plugin that contributed the steps; report it to its authors."


class ChangeJson(TypedDict):
    """One change in a plan's JSON form."""

    action: str
    kind: str
    name: str


class StepJson(TypedDict):
    """One step in a plan's JSON form."""

    id: str
    description: str
    depends_on: list[str]
    changes: list[ChangeJson]
    timeout: float | None


class PlanJson(TypedDict):
    """A plan's JSON form: steps in execution order, and change counts by action."""

    steps: list[StepJson]
    summary: dict[str, int]


class Plan:
    """A validated DAG of steps. ``steps`` is a topological order that keeps, among steps
    ready at the same time, the order they were given in."""

    def __init__(self, steps: Iterable[Step]) -> None:
        given = list(steps)
        self._by_id = _index(given)
        _check_dependencies(given, self._by_id)
        self.steps: tuple[Step, ...] = _topological(given)
        self.dependents: Mapping[str, tuple[str, ...]] = _dependents(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def step(self, step_id: str) -> Step:
        """The step named ``step_id``; KeyError if the plan has none."""
        return self._by_id[step_id]

    def to_json(self) -> PlanJson:
        """The plan as JSON-able data: steps with dependencies and changes, and a summary."""
        summary = {action.value: 0 for action in ChangeAction if action is not ChangeAction.NONE}
        for step in self.steps:
            for change in step.changes:
                if change.action is not ChangeAction.NONE:
                    summary[change.action.value] += 1
        return {"steps": [_step_json(step) for step in self.steps], "summary": summary}

    def render(self) -> str:
        """The plan in words, one block per step, then the totals."""
        lines: list[str] = []
        for number, step in enumerate(self.steps, start=1):
            after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
            lines.append(f"{number:>3}. {step.id}{after}")
            if step.description:
                lines.append(f"       {step.description}")
            lines.extend(_change_line(change.describe(), change.action) for change in step.changes)
        totals = self.to_json()["summary"]
        lines.append("Plan: " + ", ".join(f"{count} to {name}" for name, count in totals.items()))
        return "\n".join(lines)


def _change_line(text: str, action: ChangeAction) -> str:
    sign = {"create": "+", "update": "~", "delete": "-", "none": "="}[action.value]
    return f"       {sign} {text}"


def _step_json(step: Step) -> StepJson:
    changes: list[ChangeJson] = [
        {"action": c.action.value, "kind": c.kind, "name": c.name} for c in step.changes
    ]
    return {
        "id": step.id,
        "description": step.description,
        "depends_on": list(step.depends_on),
        "changes": changes,
        "timeout": step.timeout,
    }


def _index(steps: list[Step]) -> dict[str, Step]:
    by_id: dict[str, Step] = {}
    duplicates: set[str] = set()
    for step in steps:
        if step.id in by_id:
            duplicates.add(step.id)
        by_id[step.id] = step
    if duplicates:
        raise InvalidInputError(f"duplicate step ids: {', '.join(sorted(duplicates))}", hint=_HINT)
    return by_id


def _check_dependencies(steps: list[Step], by_id: Mapping[str, Step]) -> None:
    dangling = [
        f"{step.id} -> {dep}" for step in steps for dep in step.depends_on if dep not in by_id
    ]
    if dangling:
        raise InvalidInputError(
            f"steps depend on steps that are not in the plan: {', '.join(dangling)}", hint=_HINT
        )


def _topological(steps: list[Step]) -> tuple[Step, ...]:
    position = {step.id: index for index, step in enumerate(steps)}
    waiting = {step.id: len(set(step.depends_on)) for step in steps}
    dependents = _dependents(steps)
    ready = [step.id for step in steps if waiting[step.id] == 0]
    order: list[Step] = []
    while ready:
        ready.sort(key=position.__getitem__, reverse=True)
        current = ready.pop()
        order.append(steps[position[current]])
        for child in dependents[current]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    if len(order) != len(steps):
        cycle = _find_cycle({s.id: s.depends_on for s in steps if waiting[s.id] > 0})
        raise InvalidInputError(f"steps form a cycle: {' -> '.join(cycle)}", hint=_HINT)
    return tuple(order)


def _dependents(steps: Iterable[Step]) -> dict[str, tuple[str, ...]]:
    children: dict[str, list[str]] = {}
    for step in steps:
        children.setdefault(step.id, [])
        for dep in dict.fromkeys(step.depends_on):
            children.setdefault(dep, []).append(step.id)
    return {key: tuple(value) for key, value in children.items()}


def _find_cycle(blocked: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A cycle among ``blocked`` steps (each of which waits on another blocked step)."""
    path: list[str] = []
    seen: dict[str, int] = {}
    current = next(iter(blocked))
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = next(dep for dep in blocked[current] if dep in blocked)
    return [*path[seen[current] :], current]
