"""A plugin whose step relays a tool's output full of terminal escape sequences, then fails
with them in its error: what a terminal must never receive raw.

Load it with ``qengine -p noisy`` (this directory on ``PYTHONPATH``); target ``{"kind":
"noisy"}``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import ClassVar, Literal

import attrs

from qengine.plugin import DeploymentError, EnvEngine, JobServices, Registry, hookimpl
from qengine.runner import Step, StepContext
from qengine.spec import EnvironmentJob, TargetSpec

# Set the window title (OSC 0), clear the screen (CSI 2J), OSC 52 clipboard write, a C1 CSI.
NOISE = (
    "printf 'title \\033]0;pwned\\007 clear \\033[2J "
    "clip \\033]52;c;ZXZpbA==\\007 c1 \\302\\233 end'"
)


@attrs.frozen(kw_only=True)
class NoisyTarget(TargetSpec):
    """The target: nothing to configure."""

    local_only: ClassVar[bool] = True
    kind: Literal["noisy"]


class NoisyEngine(EnvEngine):
    """One step that relays the noise and fails with it."""

    def __init__(self, section: NoisyTarget, services: JobServices) -> None:
        self._section = section

    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """The noisy step."""
        return [Step(id="noisy", run=_run)]

    pause = resume = restart = delete = deploy


def _run(ctx: StepContext) -> dict[str, str]:
    output = subprocess.run(["sh", "-c", NOISE], capture_output=True, text=True, check=True)
    ctx.emit_log(output.stdout)
    ctx.emit_warning(output.stdout)
    raise DeploymentError(f"the tool said: {output.stdout}", hint=output.stdout)


@hookimpl
def qengine_register(registry: Registry) -> None:
    """Register the ``noisy`` target."""
    registry.add_target("noisy", NoisyTarget, NoisyEngine, "a step that prints escapes")
