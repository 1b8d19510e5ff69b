"""A plan: a validated DAG of steps, in a stable topological order.

Building a :class:`Plan` refuses duplicate step ids, dependencies on steps that are not in
the plan, and cycles, each with an :class:`~qengine.InvalidInputError` naming the steps.
A plan describes itself as JSON and in words. A :class:`PlanReport` is what ``qengine plan``
prints: each step with what its target says it would change (:class:`StepPreview`, asked of
the cluster or the cloud when it can be reached), or that an earlier run of the job already did
it (the journal), or that its changes are not known (an offline plan).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

import attrs

from qengine._errors import InvalidInputError
from qengine.runner.steps import ChangeAction, Step

__all__ = [
    "ChangeJson",
    "FieldDiff",
    "ObjectDiff",
    "Plan",
    "PlanJson",
    "PlanReport",
    "StepJson",
    "PlanStepState",
    "StepPreview",
    "StepReport",
    "Verdict",
]

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


# -- what a plan would change, asked of the target -------------------------------------------

SECRET = "(secret)"  # noqa: S105 - how a redacted value is shown
"""How a secret-valued field is shown in a plan: never its value, old or new."""

OFFLINE = "offline plan: changes not known"


class Verdict(enum.StrEnum):
    """What applying a step would do to one object, as its target answered."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"


@attrs.frozen(kw_only=True)
class FieldDiff:
    """One field an update changes: its path and its values as shown (``None``: absent;
    :data:`SECRET` for a secret value)."""

    path: str
    before: str | None
    after: str | None

    def describe(self) -> str:
        """``spec.replicas: 1 -> 3``."""
        before = "(absent)" if self.before is None else self.before
        after = "(absent)" if self.after is None else self.after
        return f"{self.path}: {before} -> {after}"


@attrs.frozen(kw_only=True)
class ObjectDiff:
    """One object a step would create, update, delete or leave unchanged; ``fields`` are the
    changes of an update; ``note`` says what was not compared."""

    action: Verdict
    kind: str
    name: str
    fields: tuple[FieldDiff, ...] = ()
    note: str = ""


@attrs.frozen(kw_only=True)
class StepPreview:
    """What a target says one step would change. ``unknown`` (a reason) when it could not
    say: then ``objects`` is empty and the plan shows the step as not known."""

    objects: tuple[ObjectDiff, ...] = ()
    unknown: str = ""
    note: str = ""

    @classmethod
    def not_known(cls, reason: str) -> StepPreview:
        """The step's changes are not known, for ``reason``."""
        return cls(unknown=reason or "the target was not asked")


class PlanStepState(enum.StrEnum):
    """How a plan knows a step: asked of its target, done by an earlier run, or not known."""

    KNOWN = "known"
    DONE = "done"
    UNKNOWN = "unknown"


@attrs.frozen(kw_only=True)
class StepReport:
    """One step of a :class:`PlanReport`."""

    step: Step
    state: PlanStepState
    preview: StepPreview


class FieldJson(TypedDict):
    """A changed field in a plan report's JSON form."""

    path: str
    before: str | None
    after: str | None


class ObjectJson(TypedDict):
    """An object in a plan report's JSON form (``action`` is ``unknown`` when not known)."""

    action: str
    kind: str
    name: str
    fields: list[FieldJson]
    note: str


class StepReportJson(TypedDict):
    """A step in a plan report's JSON form."""

    id: str
    description: str
    depends_on: list[str]
    timeout: float | None
    state: str
    reason: str
    note: str
    changes: list[ObjectJson]


class PlanReportJson(TypedDict):
    """A plan report's JSON form."""

    steps: list[StepReportJson]
    summary: dict[str, int]


DONE_TEXT = "done by an earlier run; `run` would skip it"


class PlanReport:
    """A plan with what each step would change: what ``qengine plan`` prints.

    ``done`` are the ids of steps an earlier run of the same job finished (``run`` skips
    them); ``previews`` what the target answered, by step id; a step in neither is not known,
    for ``offline`` (the reason the target was not asked) or because no one answered for it.
    """

    def __init__(
        self,
        plan: Plan,
        previews: Mapping[str, StepPreview],
        *,
        done: Iterable[str] = (),
        offline: str = "",
    ) -> None:
        self.plan = plan
        finished = set(done)
        reports: list[StepReport] = []
        for step in plan.steps:
            if step.id in finished:
                done_report = StepReport(step=step, state=PlanStepState.DONE, preview=StepPreview())
                reports.append(done_report)
                continue
            preview = previews.get(step.id)
            if preview is None:
                preview = StepPreview.not_known(offline or "its plugin does not preview changes")
            state = PlanStepState.UNKNOWN if preview.unknown else PlanStepState.KNOWN
            reports.append(StepReport(step=step, state=state, preview=preview))
        self.steps: tuple[StepReport, ...] = tuple(reports)

    def summary(self) -> dict[str, int]:
        """Objects by verdict, then steps done by an earlier run and steps not known."""
        counts = {verdict.value: 0 for verdict in Verdict}
        counts["steps_done"] = 0
        counts["steps_unknown"] = 0
        for report in self.steps:
            if report.state is PlanStepState.DONE:
                counts["steps_done"] += 1
            elif report.state is PlanStepState.UNKNOWN:
                counts["steps_unknown"] += 1
            for obj in report.preview.objects:
                counts[obj.action.value] += 1
        return counts

    def to_json(self) -> PlanReportJson:
        """The report as JSON-able data; the same facts as :meth:`render`."""
        return {"steps": [_report_json(r) for r in self.steps], "summary": self.summary()}

    def render(self) -> str:
        """The report in words: one block per step, then the totals."""
        lines: list[str] = []
        for number, report in enumerate(self.steps, start=1):
            step = report.step
            after = f" (after {', '.join(step.depends_on)})" if step.depends_on else ""
            lines.append(f"{number:>3}. {step.id}{after}")
            if step.description:
                lines.append(f"       {step.description}")
            lines.extend(_report_lines(report))
        lines.append(_totals(self.summary()))
        return "\n".join(lines)


_SIGNS = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}


def _report_lines(report: StepReport) -> list[str]:
    if report.state is PlanStepState.DONE:
        return [f"       {DONE_TEXT}"]
    preview = report.preview
    if report.state is PlanStepState.UNKNOWN:
        lines = [f"       {OFFLINE} ({preview.unknown})"]
        lines.extend(f"       ? {c.kind} {c.name}" for c in report.step.changes)
        return lines
    lines = []
    for obj in preview.objects:
        note = f" ({obj.note})" if obj.note else ""
        sign = _SIGNS[obj.action.value]
        lines.append(f"       {sign} {obj.action.value} {obj.kind} {obj.name}{note}")
        lines.extend(f"           {field.describe()}" for field in obj.fields)
    if preview.note:
        lines.append(f"       note: {preview.note}")
    if not preview.objects and not preview.note:
        lines.append("       no change")
    return lines


def _totals(counts: Mapping[str, int]) -> str:
    text = (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['unchanged']} unchanged"
    )
    if counts["steps_done"]:
        text += f"; {_steps(counts['steps_done'])} done by an earlier run"
    if counts["steps_unknown"]:
        text += f"; {_steps(counts['steps_unknown'])} not known ({OFFLINE})"
    return text + "."


def _steps(count: int) -> str:
    return f"{count} step" + ("" if count == 1 else "s")


def _report_json(report: StepReport) -> StepReportJson:
    step, preview = report.step, report.preview
    changes: list[ObjectJson]
    if report.state is PlanStepState.UNKNOWN:
        changes = [
            {"action": "unknown", "kind": c.kind, "name": c.name, "fields": [], "note": ""}
            for c in step.changes
        ]
    else:
        changes = [
            {
                "action": obj.action.value,
                "kind": obj.kind,
                "name": obj.name,
                "fields": [
                    {"path": f.path, "before": f.before, "after": f.after} for f in obj.fields
                ],
                "note": obj.note,
            }
            for obj in preview.objects
        ]
    reason = DONE_TEXT if report.state is PlanStepState.DONE else preview.unknown
    return {
        "id": step.id,
        "description": step.description,
        "depends_on": list(step.depends_on),
        "timeout": step.timeout,
        "state": report.state.value,
        "reason": reason,
        "note": preview.note,
        "changes": changes,
    }


def done_steps(plan: Plan, records: Sequence[tuple[str, str, bool]], job_id: str) -> list[str]:
    """The steps ``run`` would skip as done by an earlier run of job ``job_id``: those whose
    journal record (step id, idempotency key, succeeded) matches their current key, and whose
    dependencies are all done too (as the runner restores them)."""
    succeeded = {step_id: key for step_id, key, ok in records if ok}
    done: set[str] = set()
    order: list[str] = []
    for step in plan.steps:  # topological: dependencies first
        if succeeded.get(step.id) != step.key_for(job_id):
            continue
        if all(dep in done for dep in step.depends_on):
            done.add(step.id)
            order.append(step.id)
    return order
