"""The Kubernetes environment engine: what each target of this plugin builds for a job.

Every action is planned by :func:`qengine_kubernetes.steps.plan_steps` (one step per service,
in stage order, plus the namespace's and the pruning's); the steps do the work when they run
(apply, rollout, history, lifecycle). Building the engine and its steps reaches no cluster,
opens no secret and imports no Kubernetes client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import EnvEngine
from qengine.spec import EnvAction, EnvironmentJob
from qengine_kubernetes.settings import settings_of
from qengine_kubernetes.spec import InClusterTarget, KubeconfigTarget, SandboxTarget

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step, TargetLease
    from qengine.runner.plan import StepPreview

KubernetesTarget = KubeconfigTarget | InClusterTarget | SandboxTarget


class KubernetesEnvEngine(EnvEngine):
    """Plans the environment jobs of one Kubernetes target.

    ``section`` is the job's target (how its steps reach the cluster, unless the engine's
    settings name a cluster for every target); ``services`` are the job's. The plugin's
    settings are read here, so a host's wrong settings are refused before anything runs.
    """

    def __init__(self, section: KubernetesTarget, services: JobServices) -> None:
        self.target = section
        self.services = services
        self.settings = settings_of(services)

    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """Namespace, then each selected service in stage order; a whole-environment deploy
        ends by pruning the objects of services no longer in the spec."""
        return self._plan(job, EnvAction.DEPLOY)

    def pause(self, job: EnvironmentJob) -> Sequence[Step]:
        """Each selected service's workloads scaled to zero, cron jobs suspended."""
        return self._plan(job, EnvAction.PAUSE)

    def resume(self, job: EnvironmentJob) -> Sequence[Step]:
        """Each selected service's paused workloads restored and awaited."""
        return self._plan(job, EnvAction.RESUME)

    def restart(self, job: EnvironmentJob) -> Sequence[Step]:
        """Each selected service's pods rolled and awaited."""
        return self._plan(job, EnvAction.RESTART)

    def delete(self, job: EnvironmentJob) -> Sequence[Step]:
        """Each selected service deleted in reverse stage order (on-delete hooks first); a
        whole-environment delete ends with the namespace."""
        return self._plan(job, EnvAction.DELETE)

    def preview(self, job: EnvironmentJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What each step of a deploy would change, asked of the cluster with reads and
        server-side dry-runs (see :mod:`qengine_kubernetes.planning`)."""
        from qengine_kubernetes.planning import preview_steps

        return preview_steps(job, steps, self.settings)

    def lease(self, job: EnvironmentJob) -> TargetLease | None:
        """The environment's Lease on its cluster (see :mod:`qengine_kubernetes.lease`), unless
        the settings turn Leases off."""
        if self.settings.lease_namespace is None:
            return None
        from qengine_kubernetes.access import ClusterCell
        from qengine_kubernetes.lease import KubeLease
        from qengine_kubernetes.render.names import namespace_name

        return KubeLease(
            ClusterCell(job.target, self.settings),
            namespace=self.settings.lease_namespace,
            name=namespace_name(job.environment),
            seconds=self.settings.lease_seconds,
        )

    def _plan(self, job: EnvironmentJob, action: EnvAction) -> list[Step]:
        from qengine_kubernetes.steps import plan_steps

        # The steps read the action from the job: plan the one asked for, whatever the job says.
        if job.action is not action:
            job = attrs.evolve(job, action=action)
        if action is EnvAction.DEPLOY:
            from qengine_kubernetes.charts import check_local_charts

            check_local_charts(job, self.settings.chart_root)
        return plan_steps(job, self.services, self.settings)
