"""The ``aws`` cloud provider: an :class:`~qengine.interfaces.InfraEngine` for hosts that drive
a cluster's lifecycle themselves, without the engine's runner.

It runs the very steps a job's plan holds (:func:`qengine_aws.actions.steps_for`): the same
preflight, state backend, Terraform apply or destroy. Two ways:

* by default, one after the other in this thread, without the runner: no journal (an
  interrupted call is redone from the start; Terraform's state makes that safe), no target lock
  beyond Terraform's state lock, no compensation, no events unless the host passes a
  ``StepEmitter``. A step's error is raised as the step raised it; retryable ones are retried
  as the runner would (``step.retry`` or the default :class:`~qengine.retry.RetryPolicy`);
* with ``runner=RunnerOptions(store=...)``, under the engine's runner: journal and resume,
  the ``cluster/<id>`` lock, rollback, events to the host's sinks
  (:mod:`qengine_aws.journalled`). A failure is raised as the error class the step raised,
  rebuilt from the runner's record (message and hint).

The factory registered for ``aws`` builds ``AwsCloudProvider()``: AWS itself, the host's
default credential chain, no sealed secret. A host with sealed secrets or another endpoint
builds ``AwsCloudProvider(settings=..., open_secret=...)`` itself; a real (non-sandbox) run
also needs ``terraform=TerraformSettings(...)`` (a provider mirror or plugin cache).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs

from qengine._errors import InfrastructureError, InvalidInputError, SecretError
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.cloud import CloudProvider, ClusterAccess, InfraEngine
from qengine.interfaces.events import EventSink
from qengine.interfaces.state import StateStore
from qengine.retry import RetryPolicy
from qengine.runner import Scratch, Step, StepContext
from qengine.runner.steps import StepEmitter
from qengine.secrets.value import SecretValue
from qengine.spec import InfraAction, InfrastructureJob, ProviderSpec
from qengine.terraform import TerraformSettings
from qengine_aws.actions import AwsJob, steps_for
from qengine_aws.cluster_outputs import ClusterOutputs
from qengine_aws.credentials import SecretOpener
from qengine_aws.journalled import run_journalled
from qengine_aws.settings import AwsSettings
from qengine_aws.spec import AwsProvider
from qengine_aws.token import cluster_access


def _no_secrets(name: str) -> SecretValue:
    raise SecretError(
        f"the job references the secret {name!r} but this AWS provider was given no secrets",
        hint="Build AwsCloudProvider(open_secret=...) with the job's unsealed secrets.",
    )


@attrs.frozen(kw_only=True)
class _Ran:
    """The job's steps as they ran: its AWS access and each step's outputs."""

    aws: AwsJob
    outputs: Mapping[str, Mapping[str, str]]


@attrs.frozen(kw_only=True)
class RunnerOptions:
    """Run each call's steps under the engine's runner (see :mod:`qengine_aws.journalled`).

    ``store``: the journal and lock store (``qengine.runner.SqliteStateStore`` survives the
    process); ``sinks``: where the events go (redact them yourself: this path has no job
    secrets to mask with); ``wait_lock``: seconds to wait for another call on the cluster.
    """

    store: StateStore
    sinks: Sequence[EventSink] = ()
    wait_lock: float = 0.0


class AwsCloudProvider(CloudProvider):
    """EKS clusters through Terraform; builds one :class:`AwsInfraEngine` per job."""

    kind: ClassVar[str] = "aws"
    spec_type: ClassVar[type[ProviderSpec]] = AwsProvider

    def __init__(
        self,
        *,
        settings: AwsSettings | None = None,
        open_secret: SecretOpener | None = None,
        emitter: StepEmitter | None = None,
        terraform: TerraformSettings | None = None,
        runner: RunnerOptions | None = None,
    ) -> None:
        self._settings = settings or AwsSettings()
        self._open = open_secret or _no_secrets
        self._emitter = emitter or StepEmitter()
        self._terraform = terraform or TerraformSettings()
        self._runner = runner

    def infra_engine(self, job: InfrastructureJob) -> AwsInfraEngine:
        """The engine of ``job``'s cluster; touches no network."""
        if not isinstance(job.cluster.provider, AwsProvider):
            raise InvalidInputError(
                f"the job's cloud provider is {job.cluster.provider.kind!r}, not 'aws'",
                hint="Ask the provider registered for that kind.",
            )
        return AwsInfraEngine(
            settings=self._settings,
            open_secret=self._open,
            emitter=self._emitter,
            terraform=self._terraform,
            runner=self._runner,
        )


class AwsInfraEngine(InfraEngine):
    """Create, upgrade, pause, resume, delete and plan an EKS cluster with the job's steps.

    Each method runs the steps of its action, whatever ``job.action`` says. The returned
    :class:`ClusterAccess` carries the applied outputs (endpoint, CA, and in ``extra`` the
    cluster name, region and OIDC issuer) and an EKS token provider, held in memory.
    """

    def __init__(
        self,
        *,
        settings: AwsSettings,
        open_secret: SecretOpener,
        emitter: StepEmitter,
        terraform: TerraformSettings | None = None,
        runner: RunnerOptions | None = None,
    ) -> None:
        self._settings = settings
        self._open = open_secret
        self._emitter = emitter
        self._runner = runner
        self._terraform = terraform or TerraformSettings()

    def plan(self, job: InfrastructureJob, cancel: CancelToken) -> Mapping[str, str]:
        """Each step of the job's action and what it would change; sends no request at all.

        Like ``qengine plan``: Terraform's own plan needs the state backend, which the
        ``aws.state-backend`` step may have to create, so it is not run here.
        """
        cancel.raise_if_cancelled()
        return {step.id: _describe(step) for step in self._steps(job, job.action)}

    def create(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """Create the cluster, or converge an existing one to the job."""
        return self._access(job, self._run(job, InfraAction.CREATE, cancel))

    def upgrade(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """Control plane, then node groups, to the job's version (one minor version at most)."""
        return self._access(job, self._run(job, InfraAction.UPGRADE, cancel))

    def pause(self, job: InfrastructureJob, cancel: CancelToken) -> None:
        """Save the node groups' sizes, scale them to zero through EKS (min and desired; max
        kept), apply min 0; the control plane stays."""
        self._run(job, InfraAction.PAUSE, cancel)

    def resume(self, job: InfrastructureJob, cancel: CancelToken) -> ClusterAccess:
        """The sizes the pause saved, clamped into the job's min and max; then the apply."""
        return self._access(job, self._run(job, InfraAction.RESUME, cancel))

    def delete(self, job: InfrastructureJob, cancel: CancelToken) -> None:
        """Controller-made load balancers, then the cluster; the state bucket is kept."""
        self._run(job, InfraAction.DELETE, cancel)

    def _aws(self, job: InfrastructureJob, action: InfraAction) -> AwsJob:
        job = attrs.evolve(job, action=action)
        return AwsJob.of(job, self._open, self._settings, self._terraform)

    def _steps(self, job: InfrastructureJob, action: InfraAction) -> list[Step]:
        return steps_for(self._aws(job, action))

    def _run(self, job: InfrastructureJob, action: InfraAction, cancel: CancelToken) -> _Ran:
        aws = self._aws(job, action)
        if self._runner is not None:
            journalled = run_journalled(
                steps_for(aws),
                job,
                action,
                store=self._runner.store,
                sinks=self._runner.sinks,
                cancel=cancel,
                wait_lock=self._runner.wait_lock,
            )
            return _Ran(aws=aws, outputs=journalled)
        outputs: dict[str, Mapping[str, str]] = {}
        scratch = Scratch()
        for step in steps_for(aws):  # listed in dependency order
            cancel.raise_if_cancelled()
            ctx = StepContext(
                job_id=job.id,
                organization_id=job.organization.id,
                target_id=f"cluster/{job.cluster.id}",
                step_id=step.id,
                idempotency_key=step.key_for(job.id),
                cancel=cancel,
                inputs={needed: outputs[needed] for needed in step.depends_on},
                scratch=scratch,
                emitter=self._emitter,
            )
            policy = step.retry or RetryPolicy()
            outputs[step.id] = dict(policy.call(functools.partial(step.run, ctx), cancel=cancel))
        return _Ran(aws=aws, outputs=outputs)

    def _access(self, job: InfrastructureJob, ran: _Ran) -> ClusterAccess:
        applied = [out for out in ran.outputs.values() if "endpoint" in out]
        if not applied:
            raise InfrastructureError(
                f"no step applied the cluster {job.cluster.name}",
                hint="This is a defect of qengine-aws: create, upgrade and resume apply.",
            )
        names = [field.name for field in attrs.fields(ClusterOutputs)]
        outputs = ClusterOutputs(**{name: applied[-1][name] for name in names})
        access = cluster_access(
            ran.aws.access,
            endpoint=outputs.endpoint,
            ca_base64=outputs.certificate_authority,
            cluster_name=outputs.cluster_name,
        )
        extra = {**access.extra, "oidc_issuer_url": outputs.oidc_issuer_url}
        return attrs.evolve(access, extra=extra)


def _describe(step: Step) -> str:
    changes = ", ".join(change.describe() for change in step.changes)
    return f"{step.description} ({changes})" if changes else step.description
