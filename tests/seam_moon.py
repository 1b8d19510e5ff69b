"""A test plugin module (``-p seam_moon``): the ``moon`` target, its option and settings."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Literal

import attrs

from qengine.plugin import EnvEngine, JobServices, Registry, Step, StepContext, hookimpl
from qengine.spec import EnvironmentJob, TargetSpec


@attrs.frozen(kw_only=True)
class MoonTarget(TargetSpec):
    """A test-only target section."""

    kind: Literal["moon"]
    crater: str


class MoonEngine(EnvEngine):
    """Each action is one step that records the section, the action and a setting."""

    def __init__(self, section: MoonTarget, services: JobServices) -> None:
        self.section = section
        self.services = services

    def _steps(self, job: EnvironmentJob) -> Sequence[Step]:
        greeting = self.services.settings_for("moon", str) or "none"

        def run(ctx: StepContext) -> Mapping[str, str]:
            return {"crater": self.section.crater, "greeting": greeting}

        return [Step(id=f"moon/{job.action.value}", run=run)]

    deploy = pause = resume = restart = delete = _steps


@hookimpl
def qengine_register(registry: Registry) -> None:
    """The ``moon`` target."""
    registry.add_target("moon", MoonTarget, MoonEngine, "test target")


@hookimpl
def qengine_add_options(parser: argparse.ArgumentParser) -> None:
    """``--moon-greeting``."""
    parser.add_argument_group("moon").add_argument("--moon-greeting")


@hookimpl
def qengine_engine_settings(options: Mapping[str, object]) -> Mapping[str, object]:
    """The greeting, as the ``moon`` plugin's settings."""
    greeting = options.get("moon_greeting")
    return {"moon": greeting} if isinstance(greeting, str) else {}
