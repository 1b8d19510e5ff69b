"""The Kubernetes environment engine: what the targets of this plugin build.

The work itself is done by the steps of :mod:`qengine_kubernetes.steps` (apply, rollout,
history, lifecycle); this object is what the target registrations hand out.
"""

from __future__ import annotations

from typing import Any

from qengine.runner import Step
from qengine.spec import EnvironmentJob


class EnvironmentEngine:
    """Plans environment jobs on a Kubernetes target."""

    def plan_steps(self, job: EnvironmentJob, services: Any) -> list[Step]:
        """The steps of ``job`` (see :func:`qengine_kubernetes.steps.plan_steps`)."""
        from qengine_kubernetes.steps import plan_steps

        return plan_steps(job, services)


def build_engine() -> EnvironmentEngine:
    """Build the environment engine (cheap: the cluster is reached when a step runs)."""
    return EnvironmentEngine()
