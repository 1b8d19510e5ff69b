"""The steps of an Azure infrastructure job, one plan per action.

Every plan starts with ``azure.preflight`` (a token from Entra ID for the job's application)
and ``azure.state-backend`` (resource group, storage account with versioning and soft delete,
container). Then:

- create and upgrade: ``azure.apply`` of the blueprint (a create also converges an existing
  cluster; an upgrade is the same apply at the job's version);
- pause: ``azure.stop`` (AKS stop; the control plane's state and the pools' sizes are kept
  by AKS);
- resume: ``azure.start`` (AKS start), then ``azure.apply`` of the blueprint;
- delete: ``azure.destroy``; the state account is kept.

Steps that apply return the cluster's access details as outputs (see
:data:`~qengine_azure.blueprint.OUTPUTS`), and ``external_dns_client_id`` when the job runs
external-dns on Azure DNS (the add-on step annotates external-dns's service account with it:
workload identity).

A job that fails or is cancelled is rolled back, newest step first (as the AWS plugin's):

- create: when the cluster's state held no resource before the job (read by the state step,
  ``cluster_in_state``), what the apply made is destroyed, as a delete would; a converge of a
  cluster that existed is not undone: the rollback of ``azure.apply`` fails saying so, and
  the recap lists it as left as Terraform has it;
- pause: a cluster this job stopped (it was ``Running`` at preflight) is started again;
- resume: a cluster this job started (it was ``Stopped`` at preflight) is stopped again; the
  resume's apply is not undone (it converged the blueprint, which a pause does not change);
- upgrade and delete are not undone (listed as left in the recap).

See :func:`qengine_azure.pause.undo_power`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from qengine.plugin import InfrastructureError
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import InfraAction, InfrastructureJob
from qengine.terraform import TerraformSettings
from qengine_azure import cert_manager_identity, dns_identity
from qengine_azure.blueprint import OUTPUTS, aks_root_module
from qengine_azure.credentials import AzureAccess, SecretOpener
from qengine_azure.pause import (
    cluster_facts,
    forget_stand_in,
    register_stand_in,
    set_power,
    undo_power,
)
from qengine_azure.preflight import preflight_new_cluster
from qengine_azure.sandbox import PLACEHOLDER_CLUSTER, SANDBOX_NOTICE, sandbox_root_module
from qengine_azure.settings import AzureSettings
from qengine_azure.state_backend import StateLocation, ensure_state_backend, holds_resources
from qengine_azure.terraform_run import string_outputs, terraform_for
from qengine_azure.upgrade import check_upgrade

PREFLIGHT = "azure.preflight"
STATE = "azure.state-backend"
APPLY = "azure.apply"
DESTROY = "azure.destroy"
STOP = "azure.stop"
START = "azure.start"
#: Output of the state step: whether the cluster's state held resources before the job.
CLUSTER_IN_STATE = "cluster_in_state"


@attrs.frozen(kw_only=True)
class AzureJob:
    """What every step of one job shares: the job, its access to Azure, the plugin's settings
    and the engine's Terraform settings."""

    job: InfrastructureJob
    access: AzureAccess
    settings: AzureSettings
    terraform: TerraformSettings = attrs.field(factory=TerraformSettings)

    @classmethod
    def of(
        cls,
        job: InfrastructureJob,
        open_secret: SecretOpener,
        settings: AzureSettings,
        terraform: TerraformSettings | None = None,
    ) -> AzureJob:
        """Build it; nothing touches the network until a step runs."""
        access = AzureAccess.of(job, open_secret, settings)
        return cls(
            job=job, access=access, settings=settings, terraform=terraform or TerraformSettings()
        )

    def module(self) -> dict[str, Any]:
        """The root module to apply: the real blueprint, or the sandbox's stand-ins."""
        if self.settings.sandbox is not None:
            return sandbox_root_module(self.job, self.settings.sandbox)
        return aks_root_module(self.job)

    def module_digest(self) -> str:
        """A step's content hash: the module, leaving out a sandbox's per-run address and CA,
        so a finished job is not redone on resume."""
        if self.settings.sandbox is not None:
            return _digest(sandbox_root_module(self.job, PLACEHOLDER_CLUSTER))
        return _digest(aks_root_module(self.job))


def steps_for(azure: AzureJob) -> list[Step]:
    """The plan of the job's action."""
    action = azure.job.action
    first = [_preflight_step(azure), _state_step(azure)]
    if action is InfraAction.PAUSE:
        return [*first, _power_step(azure, running=False, after=(PREFLIGHT, STATE))]
    if action is InfraAction.RESUME:
        start = _power_step(azure, running=True, after=(PREFLIGHT, STATE))
        after = (PREFLIGHT, STATE, START)
        return [*first, start, _apply_step(azure, ChangeAction.UPDATE, after=after)]
    if action is InfraAction.DELETE:
        return [*first, _destroy_step(azure)]
    if action is InfraAction.UPGRADE:
        return [*first, _apply_step(azure, ChangeAction.UPDATE), *_addon_steps(azure)]
    create = attrs.evolve(
        _apply_step(azure, ChangeAction.CREATE),
        compensate=_undo_create(azure),
        compensate_partial=True,
    )
    return [*first, create, *_addon_steps(azure)]


def _addon_steps(azure: AzureJob) -> list[Step]:
    """The cluster's add-on stack (``qengine_addons``), after the apply whose outputs describe
    the cluster: reached with the job's Entra token (the simulator's in a sandbox, which
    installs the stack's test charts)."""
    from qengine_addons import AddonSettings, ServiceAccountIdentity, addon_steps, cluster_client

    from qengine_azure.cluster_access import cluster_access_of

    def connect(ctx: StepContext) -> Any:
        if azure.settings.sandbox is not None:
            sandbox = azure.settings.sandbox
            return cluster_client(sandbox.endpoint, sandbox.ca_pem, sandbox.token)
        access = cluster_access_of(azure.access, ctx.inputs[APPLY])
        return cluster_client(access.endpoint, access.ca_pem, access.token())

    def external_dns(ctx: StepContext) -> Mapping[str, str]:
        return dns_identity.service_account_annotations(ctx.inputs[APPLY])

    def cert_manager(ctx: StepContext) -> Mapping[str, str]:
        return cert_manager_identity.service_account_annotations(ctx.inputs[APPLY])

    identities: dict[str, ServiceAccountIdentity] = {}
    if cert_manager_identity.dns01_zone(azure.job) is not None:
        identities[cert_manager_identity.ADDON] = cert_manager
    if dns_identity.external_dns_zone(azure.job) is not None:
        identities[dns_identity.ADDON] = external_dns
    settings = AddonSettings(test_charts=azure.settings.sandbox is not None)
    return addon_steps(azure.job, connect, settings, after=(APPLY,), service_accounts=identities)


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _cluster_change(azure: AzureJob, action: ChangeAction) -> Change:
    return Change(action=action, kind="aks-cluster", name=azure.job.cluster.name)


def _preflight_step(azure: AzureJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        if azure.settings.sandbox is not None:
            ctx.emit_warning(SANDBOX_NOTICE)
        if azure.job.action in (InfraAction.CREATE, InfraAction.UPGRADE):
            from qengine_addons import require_helm

            require_helm(azure.job)  # before the cluster is made: its add-ons need helm
        azure.access.arm_token()
        provider = azure.access.provider
        ctx.emit_progress(
            f"Azure subscription {provider.subscription_id}, location {provider.location}: "
            f"a token for client {provider.client_id}"
        )
        facts = cluster_facts(azure.access, azure.job)
        action = azure.job.action
        if facts is None and action is InfraAction.CREATE:
            preflight_new_cluster(azure.access, ctx.emit_progress)
        if action is InfraAction.UPGRADE:
            check_upgrade(azure.job, facts[1] if facts else None)
        return {
            "subscription_id": provider.subscription_id,
            "location": provider.location,
            "power_state": facts[0] if facts else "absent",
        }

    return Step(
        id=PREFLIGHT,
        run=run,
        description="check the job's Azure credential (a token from Microsoft Entra ID) and, "
        "for a new cluster, the region's VM sizes, zones and vCPU quotas",
    )


def _state_step(azure: AzureJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        location, changes = ensure_state_backend(azure.access, azure.job.cluster.id)
        for change in changes:
            ctx.emit_progress(change)
        # Read before anything of this job is applied: whether a rollback may destroy.
        existed = holds_resources(azure.access, location)
        return {**attrs.asdict(location), CLUSTER_IN_STATE: "true" if existed else "false"}

    state = azure.access.provider.state
    return Step(
        id=STATE,
        run=run,
        depends_on=(PREFLIGHT,),
        description="ensure the Terraform state's storage account and container",
        changes=(
            Change(action=ChangeAction.CREATE, kind="terraform-state", name=azure.job.cluster.id),
        ),
        content_hash=_digest(attrs.asdict(state)),
    )


def _location(ctx: StepContext) -> StateLocation:
    return StateLocation(
        resource_group=ctx.input(STATE, "resource_group"),
        storage_account=ctx.input(STATE, "storage_account"),
        container=ctx.input(STATE, "container"),
        key=ctx.input(STATE, "key"),
    )


def _apply(azure: AzureJob, ctx: StepContext) -> dict[str, str]:
    if azure.job.action is not InfraAction.RESUME and ctx.input(PREFLIGHT, "power_state") == (
        "Stopped"
    ):
        # AKS refuses every change to a stopped cluster; resume applies the blueprint.
        ctx.emit_warning(
            f"the AKS cluster {azure.job.cluster.name} is paused (stopped): it stays paused, "
            "and a resume job applies the blueprint"
        )
        return {}
    with terraform_for(
        ctx,
        azure.access,
        azure.module(),
        _location(ctx),
        allow_destructive=azure.job.allow_destructive_changes,
        sources=azure.terraform.sources,
    ) as tf:
        plan = tf.plan()
        if plan.has_changes:
            tf.apply(plan)
        found = string_outputs(tf)
    wanted = (*OUTPUTS, dns_identity.CLIENT_ID_OUTPUT, cert_manager_identity.CLIENT_ID_OUTPUT)
    outputs = {name: found[name] for name in wanted if name in found}
    register_stand_in(azure.access, azure.job, outputs)
    return outputs


def _apply_step(
    azure: AzureJob, action: ChangeAction, *, after: tuple[str, ...] = (PREFLIGHT, STATE)
) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        return _apply(azure, ctx)

    return Step(
        id=APPLY,
        run=run,
        depends_on=after,
        description="terraform apply of the AKS blueprint",
        changes=(_cluster_change(azure, action),),
        content_hash=azure.module_digest(),
    )


def _destroy(azure: AzureJob, ctx: StepContext) -> None:
    """Terraform destroy of the cluster (and, in the sandbox, its stand-in managed cluster)."""
    with terraform_for(
        ctx,
        azure.access,
        azure.module(),
        _location(ctx),
        allow_destructive=True,
        sources=azure.terraform.sources,
    ) as tf:
        cluster_id = string_outputs(tf).get("cluster_id", "")
        tf.destroy()
    forget_stand_in(azure.access, cluster_id)


def _undo_create(azure: AzureJob) -> Callable[[StepContext], None]:
    """The ``compensate`` of a create's apply: a cluster this job made from nothing (its state
    held no resource before the job) is destroyed, as a delete would; a converge of a cluster
    that existed is not undone (it fails, so the recap lists the apply as left)."""

    def undo(ctx: StepContext) -> None:
        if ctx.inputs.get(STATE, {}).get(CLUSTER_IN_STATE) != "false":
            raise InfrastructureError(
                f"the cluster {azure.job.cluster.name} existed before this job: what the "
                "create changed in it is not undone",
                hint="Run the previous spec's create again to converge it back.",
            )
        ctx.emit_progress(
            f"the cluster {azure.job.cluster.name} was made by this job: destroying it"
        )
        _destroy(azure, ctx)

    return undo


def _destroy_step(azure: AzureJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        _destroy(azure, ctx)
        return {}

    return Step(
        id=DESTROY,
        run=run,
        depends_on=(STATE,),
        description="terraform destroy of the cluster (the state account is kept)",
        changes=(_cluster_change(azure, ChangeAction.DELETE),),
    )


def _power_step(azure: AzureJob, *, running: bool, after: tuple[str, ...]) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        return set_power(azure.access, azure.job, running, ctx.emit_progress, ctx.cancel)

    def undo(ctx: StepContext) -> None:
        # Only what this job changed: the power state the preflight read before it.
        before = ctx.inputs.get(PREFLIGHT, {}).get("power_state", "")
        undo_power(azure.access, azure.job, before, ctx.emit_progress, ctx.cancel)

    verb = "start" if running else "stop"
    return Step(
        id=START if running else STOP,
        run=run,
        depends_on=after,
        description=f"{verb} the AKS cluster (AKS keeps its state and node pool sizes)",
        changes=(_cluster_change(azure, ChangeAction.UPDATE),),
        compensate=undo,
        compensate_partial=True,
    )
