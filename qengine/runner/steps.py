"""The step contract: what a plugin hands the runner, and what the runner hands a step.

A :class:`Step` is a frozen value: an id, the ids it depends on, what it would change, and the
callables that do the work. ``run`` does the work and returns the step's outputs;
``compensate`` undoes what ``run`` changed (rollback); ``reconcile`` decides, after a crash
left the step in flight, whether the work is done (and with which outputs) or must be redone.
Every callable receives a :class:`StepContext` and must honour its cancel token.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import attrs

from qengine._events import Scalar
from qengine.interfaces.cancel import CancelToken

if TYPE_CHECKING:
    from qengine.retry import RetryPolicy

__all__ = [
    "Change",
    "ChangeAction",
    "NoteKind",
    "ReconcileResult",
    "ReconcileVerdict",
    "Scratch",
    "ScratchKey",
    "Step",
    "StepContext",
    "StepEmitter",
]

T = TypeVar("T")


class ChangeAction(enum.StrEnum):
    """What a step does to a resource."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NONE = "none"


@attrs.frozen(kw_only=True)
class Change:
    """One resource a step would change (in a plan) or did change (in an event)."""

    action: ChangeAction
    kind: str
    name: str

    def describe(self) -> str:
        """``create cluster demo``: the change in words, for people."""
        return f"{self.action.value} {self.kind} {self.name}"


class ReconcileVerdict(enum.StrEnum):
    """A reconcile's answer: the in-flight work is DONE, or must be done again (REDO)."""

    DONE = "done"
    REDO = "redo"


@attrs.frozen(kw_only=True)
class ReconcileResult:
    """What ``reconcile`` found; ``outputs`` are the step's outputs when the verdict is DONE."""

    verdict: ReconcileVerdict
    outputs: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def done(cls, outputs: Mapping[str, str] | None = None) -> ReconcileResult:
        """The work finished before the crash; these are its outputs."""
        return cls(verdict=ReconcileVerdict.DONE, outputs=dict(outputs or {}))

    @classmethod
    def redo(cls) -> ReconcileResult:
        """The work did not (provably) finish; run the step again."""
        return cls(verdict=ReconcileVerdict.REDO)


@attrs.frozen
class ScratchKey(Generic[T]):
    """A typed slot of a job's :class:`Scratch` area; define one per value, at module level.

    ``ScratchKey("kubeconfig", Path)`` names a slot holding a ``Path``.
    """

    name: str
    type: type[T]


class Scratch:
    """A job's typed scratch area, shared by its steps for the life of one run.

    Values are keyed by :class:`ScratchKey` and type-checked on the way in. Nothing here is
    journalled: after a resume the area starts empty, so a step must be able to rebuild what
    it reads from it (from its dependencies' outputs). ``directory`` is a private temporary
    directory (mode 0700) removed when the run ends, or None when the runner made none.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self._values: dict[str, object] = {}
        self._lock = threading.Lock()

    def put(self, key: ScratchKey[T], value: T) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""
        if not isinstance(value, key.type):
            raise TypeError(f"scratch {key.name!r} holds {key.type.__name__}")
        with self._lock:
            self._values[key.name] = value

    def get(self, key: ScratchKey[T]) -> T | None:
        """The value under ``key``, or None when nothing was stored."""
        with self._lock:
            value = self._values.get(key.name)
        return value if isinstance(value, key.type) else None

    def require(self, key: ScratchKey[T]) -> T:
        """The value under ``key``; raises LookupError naming the key when absent."""
        value = self.get(key)
        if value is None:
            raise LookupError(f"scratch {key.name!r} was not set by an earlier step")
        return value


class NoteKind(enum.StrEnum):
    """What a step's free-form note is: a line of a tool's output, or a warning."""

    LOG = "log"
    WARNING = "warning"


class StepEmitter:
    """Where a step's progress and resource changes go; the runner provides the real one.

    This base class drops everything, which is what ``plan`` and unit tests want.
    """

    def progress(self, step_id: str, message: str, data: Mapping[str, Scalar]) -> None:
        """Report progress of ``step_id``."""

    def resource_changed(self, step_id: str, change: Change, message: str) -> None:
        """Report that ``step_id`` changed a resource."""

    def note(self, step_id: str, kind: NoteKind, message: str) -> None:
        """Report a log line or a warning of ``step_id``."""


@attrs.frozen(kw_only=True)
class StepContext:
    """What a running step may use: who it runs for, its cancel token, its inputs.

    ``inputs`` maps each dependency's id to that step's outputs. ``cancel`` is this step's
    own token: it fires when the job is cancelled and when the step's timeout passes.
    ``outputs`` are this step's own outputs, given to ``compensate`` (empty for ``run`` and
    ``reconcile``).
    """

    job_id: str
    organization_id: str
    target_id: str
    step_id: str
    idempotency_key: str
    cancel: CancelToken
    inputs: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    outputs: Mapping[str, str] = attrs.field(factory=dict)
    scratch: Scratch = attrs.field(factory=Scratch)
    emitter: StepEmitter = attrs.field(factory=StepEmitter, repr=False)

    def emit_progress(self, message: str, **data: Scalar) -> None:
        """Tell the job's event stream how this step is getting on (redacted before sinks)."""
        self.emitter.progress(self.step_id, message, data)

    def emit_resource_changed(
        self, action: ChangeAction, kind: str, name: str, message: str = ""
    ) -> None:
        """Report a resource this step actually changed; it shows in the job's recap."""
        change = Change(action=action, kind=kind, name=name)
        self.emitter.resource_changed(self.step_id, change, message or change.describe())

    def emit_log(self, line: str) -> None:
        """Forward one line of a tool's output (``log`` event); it is redacted before sinks."""
        self.emitter.note(self.step_id, NoteKind.LOG, line)

    def emit_warning(self, message: str) -> None:
        """Tell the user about something that did not fail the step (``warning`` event)."""
        self.emitter.note(self.step_id, NoteKind.WARNING, message)

    def input(self, step_id: str, name: str) -> str:
        """Output ``name`` of dependency ``step_id``; KeyError naming both when missing."""
        try:
            return self.inputs[step_id][name]
        except KeyError:
            raise KeyError(f"step {self.step_id!r} has no input {step_id}.{name}") from None


StepRun = Callable[[StepContext], Mapping[str, str]]
StepCompensate = Callable[[StepContext], None]
StepReconcile = Callable[[StepContext], ReconcileResult]


def _as_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    raise TypeError("depends_on must be a tuple of step ids")


def _as_changes(value: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(value)


def _valid_id(_instance: object, _attribute: object, value: str) -> None:
    if not value or value != value.strip() or any(c.isspace() for c in value):
        raise ValueError(f"a step id must be non-empty and without spaces, got {value!r}")


@attrs.frozen(kw_only=True)
class Step:
    """One unit of work of a job's plan.

    ``content_hash`` is a digest, chosen by the step's author, of everything the step will do
    (the rendered manifest, the Terraform variables...); with the job and step ids it makes
    the default idempotency key, so a journal entry of an edited step is never mistaken for
    the current one. ``timeout`` is in seconds (None: no limit). ``retry`` overrides the
    runner's retry policy for ``run``. ``compensate_partial`` says that ``compensate`` also
    undoes a run that did not finish: the runner then calls it for this step when a failure or
    a cancellation stopped its run (once the run has returned), not only after it succeeded.
    """

    id: str = attrs.field(validator=_valid_id)
    run: StepRun = attrs.field(repr=False)
    depends_on: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    description: str = ""
    changes: tuple[Change, ...] = attrs.field(default=(), converter=_as_changes)
    timeout: float | None = None
    content_hash: str = ""
    idempotency_key: str | None = None
    compensate: StepCompensate | None = attrs.field(default=None, repr=False)
    reconcile: StepReconcile | None = attrs.field(default=None, repr=False)
    retry: RetryPolicy | None = attrs.field(default=None, repr=False)
    compensate_partial: bool = False

    def key_for(self, job_id: str) -> str:
        """The idempotency key of this step in ``job_id``: explicit, or derived."""
        if self.idempotency_key:
            return self.idempotency_key
        material = "\0".join((job_id, self.id, self.content_hash)).encode()
        return hashlib.sha256(material).hexdigest()[:32]
