"""The ``aws`` cloud provider's :class:`~qengine.plugin.InfraEngine`: each action's steps.

The engine builds one :class:`AwsInfraEngine` per job through the factory registered for
``aws`` and runs the steps it returns (journal, the ``cluster/<id>`` lock, cancellation,
rollback, events: :meth:`qengine.Engine.run`). The steps are those of
:func:`qengine_aws.actions.steps_for`; building them sends no request and opens no secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InfraEngine
from qengine.spec import InfraAction, InfrastructureJob
from qengine.terraform import terraform_settings_of
from qengine_aws.actions import STATE, AwsJob, steps_for
from qengine_aws.settings import settings_of
from qengine_aws.spec import AwsProvider

if TYPE_CHECKING:
    from qengine.plugin import JobServices, Step, TargetLease
    from qengine.runner.plan import StepPreview


class AwsInfraEngine(InfraEngine):
    """EKS clusters through Terraform, state in the user's S3 bucket.

    Built from the job's ``cluster.provider`` section and its services: the job's secrets are
    opened by the steps through ``services.secrets.open``; the plugin's settings are
    ``services.settings_for("aws", AwsSettings)`` (AWS itself when absent, moto in a sandbox
    run) and the engine's Terraform settings ``terraform_settings_of(services)`` (provider
    sources and module directory of a real run). Each method returns the steps of its action,
    whatever ``job.action`` says (the job is planned as that action).
    """

    def __init__(self, section: AwsProvider, services: JobServices) -> None:
        self.section = section
        self._services = services
        self._settings = settings_of(services)
        self._terraform = terraform_settings_of(services)

    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """Preflight, state backend, then the apply (it also converges an existing cluster)."""
        return self._steps(job, InfraAction.CREATE)

    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """Control plane, then node groups, to the job's version (one minor version at most)."""
        return self._steps(job, InfraAction.UPGRADE)

    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """Save the node groups' sizes, scale them to zero through EKS (min and desired; max
        kept), apply min 0; the control plane stays."""
        return self._steps(job, InfraAction.PAUSE)

    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """The sizes the pause saved, clamped into the job's min and max; then the apply."""
        return self._steps(job, InfraAction.RESUME)

    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """Controller-made load balancers, then the cluster; the state bucket is kept."""
        return self._steps(job, InfraAction.DELETE)

    def preview(self, job: InfrastructureJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What a create would change: the state backend looked up, Terraform's own plan of
        the blueprint (see :mod:`qengine_aws.planning`)."""
        from qengine_aws.planning import preview_steps

        aws = AwsJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return preview_steps(aws, steps)

    def lease(self, job: InfrastructureJob) -> TargetLease | None:
        """The job's lease beside the cluster's Terraform state (see :mod:`qengine_aws.lease`)."""
        from qengine.plugin import ObjectLease
        from qengine_aws.credentials import AwsAccess, CredentialRequest
        from qengine_aws.lease import S3LeaseStore, lease_key

        access = AwsAccess(
            CredentialRequest.of(job),
            open_secret=self._services.secrets.open,
            settings=self._settings,
        )
        store = S3LeaseStore(access, self.section.state, job.cluster.id)
        lease = ObjectLease(
            store,
            description=f"the lease {lease_key(job.cluster.id)} in the state bucket",
            seconds=self._settings.job_lease_seconds,
        )
        # The bucket is the state step's to make: the lease is taken once it has run, after
        # the preflight (no request before the preflight has checked what it must).
        lease.after_step = STATE
        return lease

    def _steps(self, job: InfrastructureJob, action: InfraAction) -> list[Step]:
        if job.action is not action:
            job = attrs.evolve(job, action=action)
        aws = AwsJob.of(job, self._services.secrets.open, self._settings, self._terraform)
        return steps_for(aws)
