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

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Literal

import attrs

from qengine.plugin import (
    DeploymentError,
    EnvEngine,
    InfraEngine,
    JobServices,
    Registry,
    hookimpl,
)
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import EnvironmentJob, InfrastructureJob, ProviderSpec, SecretRef, TargetSpec
from qengine.testing.steps import StepFactory, StepRecorder, build_plan


@attrs.frozen(kw_only=True)
class TestTarget(TargetSpec):
    """An environment job's test target: ``steps`` in the compact plan form."""

    __test__ = False  # not a pytest test class
    local_only: ClassVar[bool] = True  # scripted steps on this machine: --sandbox may use it
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


class _Scripted:
    """Every action of a test job runs the steps its section scripts."""

    def __init__(self, section: TestTarget | TestProvider, services: JobServices) -> None:
        self._section = section
        self._services = services

    def _steps(self, _job: object) -> Sequence[Step]:
        section = self._section
        recorder = StepRecorder(Path(section.record) if section.record else None)
        steps = list(build_plan(StepFactory(recorder), section.steps).steps)
        if section.leak:
            names: list[str] = [ref.secret for ref in section.leak]
            steps.append(_leaky_step(names, self._services, [s.id for s in steps]))
        return steps


class TestEnvEngine(_Scripted, EnvEngine):
    """The ``test`` target's engine."""

    __test__ = False

    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """The scripted steps."""
        return self._steps(job)

    pause = resume = restart = delete = deploy


class TestInfraEngine(_Scripted, InfraEngine):
    """The ``test`` cloud provider's engine."""

    __test__ = False

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """The scripted steps."""
        return self._steps(job)

    upgrade = pause = resume = delete = create


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``test`` target and the ``test`` cloud provider."""
    registry.add_target("test", TestTarget, TestEnvEngine, "scripted test steps")
    registry.add_cloud_provider("test", TestProvider, TestInfraEngine, "scripted test steps")


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
