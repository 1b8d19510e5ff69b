"""Step outputs masked where they leave the step, before the runner sees them.

A step's outputs go to its dependents, the journal, the job's result (``qengine run`` prints
it, ``--output json`` included) and the host. Every key and value passes through the job's
redactor when the step returns, so a secret the step opened (a password in a connection
string, a token a job printed as its output) is ``***`` everywhere after that, dependents
included: a step that needs a secret opens it by reference, never through another step's
outputs. A masked output is reported as a warning naming the output, never its value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from qengine._errors import PluginError
from qengine.runner.steps import ReconcileResult, Step, StepContext

__all__ = ["with_redacted_outputs"]

Redact = Callable[[str], str]


def with_redacted_outputs(step: Step, redact: Redact) -> Step:
    """``step`` whose ``run`` and ``reconcile`` return their outputs redacted."""

    def run(ctx: StepContext) -> Mapping[str, str]:
        return _masked(step.run(ctx), redact, ctx)

    reconcile = step.reconcile
    if reconcile is None:
        return attrs.evolve(step, run=run)

    def reconciled(ctx: StepContext) -> ReconcileResult:
        found = reconcile(ctx)
        return attrs.evolve(found, outputs=_masked(found.outputs, redact, ctx))

    return attrs.evolve(step, run=run, reconcile=reconciled)


def _masked(outputs: object, redact: Redact, ctx: StepContext) -> Mapping[str, str]:
    if not isinstance(outputs, Mapping):
        raise _not_strings(ctx)
    masked: dict[str, str] = {}
    hidden = 0
    for key, value in outputs.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _not_strings(ctx)
        clean_key, clean_value = redact(key), redact(value)
        hidden += (clean_key, clean_value) != (key, value)
        masked[clean_key] = clean_value
    if hidden:
        ctx.emit_warning(
            f"{hidden} output(s) of step {ctx.step_id} held a secret and were masked "
            "(a step that needs a secret opens it by reference)"
        )
    return masked


def _not_strings(ctx: StepContext) -> PluginError:
    return PluginError(f"step {ctx.step_id!r} returned outputs that are not a mapping of strings")
