"""The ``gcp`` cloud provider's :class:`~qengine.plugin.InfraEngine`: each action's steps.

The engine builds one :class:`GkeInfraEngine` per job through the factory registered for
``gcp`` and runs the steps it returns (journal, the cluster's lock, cancellation, rollback,
events). Building them sends no request and opens no secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InfraEngine
from qengine.spec import InfraAction, InfrastructureJob
from qengine.terraform import terraform_settings_of
from qengine_gcp.actions import STATE, GcpJob, steps_for
from qengine_gcp.settings import settings_of
from qengine_gcp.spec import GcpProvider

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step, TargetLease
    from qengine.runner.plan import StepPreview


class GkeInfraEngine(InfraEngine):
    """GKE Standard clusters through Terraform, state in the user's GCS bucket.

    The job's secrets are opened by the steps through ``services.secrets.open``; the plugin's
    settings are ``services.settings_for("gcp", GcpSettings)`` (Google itself when absent,
    the local stand-ins in a sandbox run) and the engine's Terraform settings
    ``terraform_settings_of(services)``. Each method returns the steps of its action.
    """

    def __init__(self, section: GcpProvider, services: JobServices) -> None:
        self.section = section
        self._services = services
        self._settings = settings_of(services)
        self._terraform = terraform_settings_of(services)

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """Preflight, state bucket, then the apply (it also converges an existing cluster)."""
        return self._steps(job, InfraAction.CREATE)

    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """The apply at the job's version, one minor version at most above the state's."""
        return self._steps(job, InfraAction.UPGRADE)

    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """Save the node pools' sizes, apply every pool's minimum at zero (maximum kept),
        resize them to zero through GKE; the control plane stays."""
        return self._steps(job, InfraAction.PAUSE)

    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """Apply the blueprint, give the pools their saved sizes back (clamped into the job's
        range), forget the saved sizes."""
        return self._steps(job, InfraAction.RESUME)

    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """The destroy of the cluster; the state bucket is kept."""
        return self._steps(job, InfraAction.DELETE)

    def preview(self, job: InfrastructureJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What a create would change: the state bucket looked up, Terraform's own plan of the
        blueprint (see :mod:`qengine_gcp.planning`)."""
        from qengine_gcp.planning import preview_steps

        gcp = GcpJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return preview_steps(gcp, steps)

    def lease(self, job: InfrastructureJob) -> TargetLease | None:
        """The job's lease beside the cluster's Terraform state (see :mod:`qengine_gcp.lease`),
        taken once the state step has made the bucket."""
        from qengine.plugin import ObjectLease
        from qengine_gcp.credentials import GcpAccess
        from qengine_gcp.lease import GcsLeaseStore, lease_bucket, lease_key

        access = GcpAccess.of(job, self._services.secrets.open, self._settings)
        bucket = lease_bucket(self.section.state.bucket, self.section.project)
        lease = ObjectLease(
            GcsLeaseStore(access, bucket, job.cluster.id),
            description=f"the lease gs://{bucket}/{lease_key(job.cluster.id)}",
            seconds=self._settings.job_lease_seconds,
        )
        lease.after_step = STATE
        return lease

    def _steps(self, job: InfrastructureJob, action: InfraAction) -> list[Step]:
        if job.action is not action:
            job = attrs.evolve(job, action=action)
        gcp = GcpJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return steps_for(gcp)
