"""A test plugin whose steps do what the job tells them: succeed, fail, hang, fail transiently.

Load it explicitly (it has no entry point, so users never get it by accident)::

    qengine --plugin qengine.testing.plugin run job.json

or ``load_plugins(plugins=[("test", qengine.testing.plugin)])``. A job targets it with
``"target": {"kind": "test", "steps": "a; b:fail <- a"}`` (an environment job) or
``"cluster": {..., "provider": {"kind": "test", "steps": "..."}}`` (an infrastructure job), the
steps written in :func:`qengine.testing.steps.build_plan`'s compact form. ``record`` names a
file where every run, compensation and reconciliation is appended, so a test can see what a
killed process did. ``leak`` lists secrets that a final step opens and then fails with, in its
progress message, its log and its error: the engine must redact all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import attrs

from qengine._engine import JobServices
from qengine._errors import DeploymentError
from qengine._plugins import Registry
from qengine.hookspecs import hookimpl
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import EnvironmentJob, Job, ProviderSpec, SecretRef, TargetSpec
from qengine.testing.steps import StepFactory, StepRecorder, build_plan


@attrs.frozen(kw_only=True)
class TestTarget(TargetSpec):
    """An environment job's test target: ``steps`` in the compact plan form."""

    __test__ = False  # not a pytest test class
    kind: Literal["test"]
    steps: str
    record: str | None = None
    leak: tuple[SecretRef, ...] = ()


@attrs.frozen(kw_only=True)
class TestProvider(ProviderSpec):
    """An infrastructure job's test cloud: ``steps`` in the compact plan form."""

    __test__ = False
    kind: Literal["test"]
    steps: str
    record: str | None = None
    leak: tuple[SecretRef, ...] = ()


def _unavailable() -> object:
    raise AssertionError("the test plugin builds its steps directly")


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``test`` target and the ``test`` cloud provider."""
    registry.add_target("test", TestTarget, _unavailable, "scripted test steps")
    registry.add_cloud_provider("test", TestProvider, _unavailable, "scripted test steps")


@hookimpl
def qengine_plan_steps(job: Job, services: JobServices) -> list[Step] | None:
    """The scripted steps of a test job."""
    section = job.target if isinstance(job, EnvironmentJob) else job.cluster.provider
    if not isinstance(section, TestTarget | TestProvider):
        return None
    recorder = StepRecorder(Path(section.record) if section.record else None)
    steps = list(build_plan(StepFactory(recorder), section.steps).steps)
    if section.leak:
        names: list[str] = [ref.secret for ref in section.leak]
        steps.append(_leaky_step(names, services, [s.id for s in steps]))
    return steps


def _leaky_step(names: list[str], services: JobServices, after: list[str]) -> Step:
    def run(ctx: StepContext) -> dict[str, str]:
        values = [services.secrets.open(name).reveal() for name in names]
        joined = " ".join(values)
        ctx.emit_progress(f"connecting with {joined}")
        ctx.emit_log(f"password={joined}")
        ctx.emit_warning(f"credentials: {values!r}")
        raise DeploymentError(
            f"the service refused the passwords {joined!r}",
            hint=f"check the secrets {', '.join(names)}: {joined}",
        )

    return Step(
        id="leak",
        depends_on=tuple(after),
        description="a step that leaks secrets",
        changes=(Change(action=ChangeAction.UPDATE, kind="test-resource", name="leak"),),
        run=run,
    )
