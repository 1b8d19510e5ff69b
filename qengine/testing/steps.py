"""Test steps, for plugin authors and qengine's own tests.

A :class:`StepFactory` makes steps that can be told to succeed, fail, hang until cancelled,
ignore cancellation for a while, fail transiently N times, sleep, and that record what ran
(run, compensate, reconcile) in a thread-safe :class:`StepRecorder`, optionally mirrored to a
file so a test can see what a killed subprocess did. :func:`build_plan` builds a DAG from a
compact description::

    build_plan(factory, "a; b:fail <- a; c:transient=2 <- a; d:sleep=0.1 <- b,c")

Each item is ``id[:option...][ <- dep,dep]``; options: ``ok`` (default), ``fail``, ``hang``,
``stuck=S`` (ignore the cancel token for S seconds), ``sleep=S``, ``transient=N``,
``retry_after=S``, ``timeout=S``, ``nocomp`` (no compensation), ``failcomp`` (compensation
raises), ``reconcile=done|redo``, ``say=TEXT`` (a progress message), ``log=TEXT`` (a log
line), ``hash=TEXT`` (the content hash, which defaults to the behaviour's name and enters the
idempotency key).
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from qengine._errors import DeploymentError, InvalidInputError, TransientError
from qengine.runner.plan import Plan
from qengine.runner.steps import (
    Change,
    ChangeAction,
    ReconcileResult,
    ReconcileVerdict,
    Step,
    StepContext,
)

__all__ = ["Behaviour", "StepFactory", "StepRecorder", "StepScript", "build_plan"]


class Behaviour(enum.StrEnum):
    """What a test step's ``run`` does."""

    SUCCEED = "ok"
    FAIL = "fail"
    HANG = "hang"
    STUCK = "stuck"
    SLEEP = "sleep"
    TRANSIENT = "transient"


@attrs.frozen(kw_only=True)
class StepScript:
    """How one test step behaves. ``seconds`` is the sleep (SLEEP) or the time it ignores
    cancellation (STUCK); ``failures`` the transient failures before success (TRANSIENT)."""

    behaviour: Behaviour = Behaviour.SUCCEED
    seconds: float = 0.0
    failures: int = 0
    retry_after: float | None = None
    timeout: float | None = None
    compensable: bool = True
    fail_compensation: bool = False
    reconcile: ReconcileVerdict | None = None
    say: str = ""
    log: str = ""
    content_hash: str = ""


class StepRecorder:
    """What test steps did, in order; thread-safe. ``log_file`` mirrors each entry as an
    ``ACTION STEP_ID`` line, written with one ``write`` to an O_APPEND file, so a reader sees
    whole lines even from a process killed mid-job."""

    def __init__(self, log_file: Path | None = None) -> None:
        self.entries: list[tuple[str, str]] = []
        self.max_concurrent = 0
        self._running = 0
        self._log_file = log_file
        self._lock = threading.Lock()

    def record(self, action: str, step_id: str) -> None:
        """Note that ``step_id`` did ``action`` ("run", "compensate", "reconcile", ...)."""
        with self._lock:
            self.entries.append((action, step_id))
            if self._log_file is not None:
                fd = os.open(self._log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, f"{action} {step_id}\n".encode())
                finally:
                    os.close(fd)

    def enter(self) -> None:
        """A step body started; tracks the highest number running at once."""
        with self._lock:
            self._running += 1
            self.max_concurrent = max(self.max_concurrent, self._running)

    def leave(self) -> None:
        """A step body ended."""
        with self._lock:
            self._running -= 1

    def steps(self, action: str) -> list[str]:
        """The step ids that did ``action``, in order."""
        with self._lock:
            return [step for done, step in self.entries if done == action]

    def counts(self, action: str) -> Counter[str]:
        """How many times each step did ``action``."""
        return Counter(self.steps(action))

    @staticmethod
    def read_log(log_file: Path) -> list[tuple[str, str]]:
        """The entries a (possibly killed) process mirrored to ``log_file``."""
        if not log_file.exists():
            return []
        lines = log_file.read_text(encoding="utf-8").splitlines()
        return [(action, step) for action, _, step in (line.partition(" ") for line in lines)]


class StepFactory:
    """Makes scripted test steps that report to one :class:`StepRecorder`."""

    def __init__(self, recorder: StepRecorder | None = None) -> None:
        self.recorder = recorder if recorder is not None else StepRecorder()
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def step(
        self, step_id: str, *, depends_on: tuple[str, ...] = (), script: StepScript | None = None
    ) -> Step:
        """A test step that behaves as ``script`` says (default: succeed at once)."""
        plan = script if script is not None else StepScript()
        return Step(
            id=step_id,
            depends_on=depends_on,
            description=f"test step {step_id} ({plan.behaviour.value})",
            changes=(Change(action=ChangeAction.CREATE, kind="test-resource", name=step_id),),
            timeout=plan.timeout,
            content_hash=plan.content_hash or plan.behaviour.value,
            run=lambda ctx: self._run(ctx, plan),
            compensate=(lambda ctx: self._compensate(ctx, plan)) if plan.compensable else None,
            reconcile=None if plan.reconcile is None else lambda ctx: self._reconcile(ctx, plan),
        )

    def _run(self, ctx: StepContext, script: StepScript) -> Mapping[str, str]:
        self.recorder.record("run", ctx.step_id)
        self.recorder.enter()
        try:
            if script.say:
                ctx.emit_progress(script.say, step=ctx.step_id)
            if script.log:
                ctx.emit_log(script.log)
            self._behave(ctx, script)
            ctx.emit_resource_changed(ChangeAction.CREATE, "test-resource", ctx.step_id)
            return _outputs(ctx)
        finally:
            self.recorder.leave()

    def _behave(self, ctx: StepContext, script: StepScript) -> None:
        if script.behaviour is Behaviour.FAIL:
            raise DeploymentError(f"step {ctx.step_id} failed as told", hint="It is a test step.")
        if script.behaviour is Behaviour.HANG:
            ctx.cancel.wait()
        elif script.behaviour is Behaviour.STUCK:
            time.sleep(script.seconds)  # deliberately deaf to the cancel token
        elif script.behaviour is Behaviour.SLEEP:
            ctx.cancel.wait(script.seconds)
        elif script.behaviour is Behaviour.TRANSIENT and self._attempt(ctx) <= script.failures:
            raise TransientError(
                f"step {ctx.step_id} is throttled (as told)", retry_after=script.retry_after
            )
        ctx.cancel.raise_if_cancelled()

    def _attempt(self, ctx: StepContext) -> int:
        with self._lock:
            self._attempts[ctx.step_id] += 1
            return self._attempts[ctx.step_id]

    def _compensate(self, ctx: StepContext, script: StepScript) -> None:
        self.recorder.record("compensate", ctx.step_id)
        if script.fail_compensation:
            raise DeploymentError(f"rollback of {ctx.step_id} failed as told")

    def _reconcile(self, ctx: StepContext, script: StepScript) -> ReconcileResult:
        self.recorder.record("reconcile", ctx.step_id)
        if script.reconcile is ReconcileVerdict.DONE:
            return ReconcileResult.done(_outputs(ctx))
        return ReconcileResult.redo()


def _outputs(ctx: StepContext) -> Mapping[str, str]:
    return {"step": ctx.step_id, "after": ",".join(sorted(ctx.inputs))}


def build_plan(factory: StepFactory, description: str) -> Plan:
    """A plan of test steps from a compact description (see the module docstring)."""
    items = [item.strip() for item in description.replace("\n", ";").split(";")]
    return Plan(_parse_item(factory, item) for item in items if item)


def _parse_item(factory: StepFactory, item: str) -> Step:
    head, _, deps = item.partition("<-")
    step_id, *options = [part.strip() for part in head.split(":")]
    depends_on = tuple(dep.strip() for dep in deps.split(",") if dep.strip())
    return factory.step(step_id, depends_on=depends_on, script=_script(item, options))


def _script(item: str, options: list[str]) -> StepScript:
    fields: dict[str, object] = {}
    for option in options:
        name, _, value = option.partition("=")
        try:
            fields.update(_option(name, value))
        except (KeyError, ValueError) as exc:
            raise InvalidInputError(f"bad test step option {option!r} in {item!r}") from exc
    return StepScript(**fields)  # type: ignore[arg-type]


def _option(name: str, value: str) -> dict[str, object]:
    simple: dict[str, dict[str, object]] = {
        "ok": {"behaviour": Behaviour.SUCCEED},
        "fail": {"behaviour": Behaviour.FAIL},
        "hang": {"behaviour": Behaviour.HANG},
        "nocomp": {"compensable": False},
        "failcomp": {"fail_compensation": True},
    }
    if name in simple:
        return simple[name]
    valued: dict[str, Callable[[str], dict[str, object]]] = {
        "stuck": lambda v: {"behaviour": Behaviour.STUCK, "seconds": float(v)},
        "sleep": lambda v: {"behaviour": Behaviour.SLEEP, "seconds": float(v)},
        "transient": lambda v: {"behaviour": Behaviour.TRANSIENT, "failures": int(v or "1")},
        "retry_after": lambda v: {"retry_after": float(v)},
        "timeout": lambda v: {"timeout": float(v)},
        "reconcile": lambda v: {"reconcile": ReconcileVerdict(v)},
        "say": lambda v: {"say": v},
        "log": lambda v: {"log": v},
        "hash": lambda v: {"content_hash": v},
    }
    return valued[name](value)
