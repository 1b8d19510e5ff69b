"""The runner: plans of steps executed in dependency order, journalled, cancellable.

Job-spec agnostic: plugins turn a job into :class:`Step` values, the Engine builds a
:class:`Plan` from them and hands it to an :class:`Executor` with a state store, event sinks
and a cancel token. See docs/runner.md.
"""

from qengine.runner.events import EventBus, JobRef, Redactor, event_json_schema
from qengine.runner.executor import Executor
from qengine.runner.journal import SqliteStateStore
from qengine.runner.memory import MemoryStateStore
from qengine.runner.plan import Plan
from qengine.runner.process import run_process
from qengine.runner.result import JobResult, JobStatus, StepError, StepOutcome, StepStatus
from qengine.runner.sinks import CallbackSink, ConsoleSink, JsonLinesSink
from qengine.runner.steps import (
    Change,
    ChangeAction,
    ReconcileResult,
    ReconcileVerdict,
    Scratch,
    ScratchKey,
    Step,
    StepContext,
)

__all__ = [
    "CallbackSink",
    "Change",
    "ChangeAction",
    "ConsoleSink",
    "EventBus",
    "Executor",
    "JobRef",
    "JobResult",
    "JobStatus",
    "JsonLinesSink",
    "MemoryStateStore",
    "Plan",
    "ReconcileResult",
    "ReconcileVerdict",
    "Redactor",
    "Scratch",
    "ScratchKey",
    "SqliteStateStore",
    "Step",
    "StepContext",
    "StepError",
    "StepOutcome",
    "StepStatus",
    "event_json_schema",
    "run_process",
]
