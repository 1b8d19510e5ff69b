"""The ``azure`` cloud provider's :class:`~qengine.plugin.InfraEngine`: each action's steps.

The engine builds one :class:`AksInfraEngine` per job through the factory registered for
``azure`` and runs the steps it returns (journal, the cluster's lock, cancellation, rollback,
events). Building them sends no request and opens no secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InfraEngine
from qengine.spec import InfraAction, InfrastructureJob
from qengine.terraform import terraform_settings_of
from qengine_azure.actions import STATE, AzureJob, steps_for
from qengine_azure.settings import settings_of
from qengine_azure.spec import AzureProvider

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step, TargetLease
    from qengine.runner.plan import StepPreview


class AksInfraEngine(InfraEngine):
    """AKS clusters through Terraform, state in the user's storage account.

    The job's secrets are opened by the steps through ``services.secrets.open``; the plugin's
    settings are ``services.settings_for("azure", AzureSettings)`` (Azure itself when absent,
    the local stand-ins in a sandbox run) and the engine's Terraform settings
    ``terraform_settings_of(services)``.
    """

    def __init__(self, section: AzureProvider, services: JobServices) -> None:
        self.section = section
        self._services = services
        self._settings = settings_of(services)
        self._terraform = terraform_settings_of(services)

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """Preflight, state account, then the apply (it also converges an existing cluster)."""
        return self._steps(job, InfraAction.CREATE)

    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """The apply at the job's version."""
        return self._steps(job, InfraAction.UPGRADE)

    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """AKS stop: nodes and control plane stopped, everything kept."""
        return self._steps(job, InfraAction.PAUSE)

    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """AKS start, then the apply of the blueprint."""
        return self._steps(job, InfraAction.RESUME)

    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """The destroy of the cluster; the state account is kept."""
        return self._steps(job, InfraAction.DELETE)

    def preview(self, job: InfrastructureJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What a create would change: the state account looked up, Terraform's own plan of
        the blueprint (see :mod:`qengine_azure.planning`)."""
        from qengine_azure.planning import preview_steps

        azure = AzureJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return preview_steps(azure, steps)

    def lease(self, job: InfrastructureJob) -> TargetLease | None:
        """The job's lease beside the cluster's Terraform state (see
        :mod:`qengine_azure.lease`), taken once the state step has made the container."""
        from qengine.plugin import ObjectLease
        from qengine_azure.credentials import AzureAccess
        from qengine_azure.lease import BlobLeaseStore

        access = AzureAccess.of(job, self._services.secrets.open, self._settings)
        store = BlobLeaseStore(access, job.cluster.id)
        lease = ObjectLease(
            store,
            description=f"the lease {store.where} in the state's storage account",
            seconds=self._settings.job_lease_seconds,
        )
        lease.after_step = STATE
        return lease

    def _steps(self, job: InfrastructureJob, action: InfraAction) -> list[Step]:
        if job.action is not action:
            job = attrs.evolve(job, action=action)
        azure = AzureJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return steps_for(azure)
