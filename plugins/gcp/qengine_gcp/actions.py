"""The steps of a GCP infrastructure job, one plan per action.

Every plan starts with ``gcp.preflight`` (Terraform's sources, a token, GKE's versions) and
``gcp.state-backend`` (the bucket). Then:

- create: ``gcp.apply`` of the blueprint (it also converges an existing cluster);
- upgrade: ``gcp.apply`` of the blueprint at the job's version, after a check against the
  version the state holds (one minor version at most, never backwards);
- pause: ``gcp.save-node-pool-sizes`` (from GKE, next to the state, once), ``gcp.apply``
  with every pool's minimum at zero, ``gcp.scale-node-pools`` (``setSize`` 0);
- resume: ``gcp.apply`` of the blueprint, ``gcp.restore-node-pool-sizes`` (the saved nodes
  per zone, clamped into the job's range), ``gcp.forget-node-pool-sizes``;
- delete: ``gcp.destroy`` (and the sizes a pause saved); the state bucket is kept.

See :mod:`qengine_gcp.pause`. A create or upgrade of a paused cluster keeps it paused.

A job that fails or is cancelled is rolled back, newest step first (as the AWS plugin's):

- create: when the cluster's state held no resource before the job (read by the state step,
  ``cluster_in_state``), what the apply made is destroyed, as a delete would (with the sizes a
  pause could have saved); a converge of a cluster that existed is not undone: the rollback of
  ``gcp.apply`` fails saying so, and the recap lists it as left as Terraform has it;
- pause and resume: see :mod:`qengine_gcp.pause` (a cancelled pause gives the node pools their
  sizes back and forgets what it saved; a cancelled resume leaves the cluster paused with its
  saved sizes);
- upgrade and delete are not undone (listed as left in the recap).

Steps that apply return the cluster's access details as outputs: ``endpoint``,
``certificate_authority`` (base64 PEM), ``cluster_name``, ``cluster_version``, ``location``,
``workload_identity_pool``, ``network_name``, and ``external_dns_service_account`` when the
job runs external-dns on Cloud DNS (the add-on step annotates external-dns's service account
with it: workload identity).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from qengine.plugin import InfrastructureError, InvalidInputError
from qengine.runner import Change, ChangeAction, Step, StepContext
from qengine.spec import InfraAction, InfrastructureJob
from qengine.terraform import TerraformSettings
from qengine_gcp import cert_manager_identity, dns_identity
from qengine_gcp.blueprint import OUTPUTS, BlueprintOptions, gke_root_module, provider_of
from qengine_gcp.credentials import GcpAccess, SecretOpener
from qengine_gcp.pause import (
    SAVED_BY_THIS_JOB,
    SAVED_RECORD,
    forget_saved_by_pause,
    forget_sizes_of,
    put_back_record,
    restore_sizes,
    save_sizes_of,
    scale_to_zero,
    undo_pause,
    undo_resume,
)
from qengine_gcp.preflight import check_version_offered
from qengine_gcp.quotas import check_room_for_cluster
from qengine_gcp.sandbox import PLACEHOLDER_CLUSTER, SANDBOX_NOTICE, sandbox_root_module
from qengine_gcp.sandbox_stand_ins import register_stand_ins, remove_stand_ins
from qengine_gcp.saved_sizes import forget_sizes, load_sizes
from qengine_gcp.settings import GcpSettings
from qengine_gcp.state_backend import StateLocation, ensure_state_backend, storage_client
from qengine_gcp.terraform_run import string_outputs, terraform_for
from qengine_gcp.terraform_sources import check_terraform_sources
from qengine_gcp.upgrade import check_upgrade

PREFLIGHT = "gcp.preflight"
STATE = "gcp.state-backend"
APPLY = "gcp.apply"
DESTROY = "gcp.destroy"
#: Output of the state step: whether the cluster's state held resources before the job.
CLUSTER_IN_STATE = "cluster_in_state"


@attrs.frozen(kw_only=True)
class GcpJob:
    """What every step of one job shares: the job, its access to Google Cloud, the plugin's
    settings and the engine's Terraform settings."""

    job: InfrastructureJob
    access: GcpAccess
    settings: GcpSettings
    terraform: TerraformSettings = attrs.field(factory=TerraformSettings)

    @classmethod
    def of(
        cls,
        job: InfrastructureJob,
        open_secret: SecretOpener,
        settings: GcpSettings,
        terraform: TerraformSettings | None = None,
    ) -> GcpJob:
        """Build it; nothing touches the network until a step runs."""
        access = GcpAccess.of(job, open_secret, settings)
        return cls(
            job=job, access=access, settings=settings, terraform=terraform or TerraformSettings()
        )

    def module(self, options: BlueprintOptions) -> dict[str, Any]:
        """The root module to apply: the real blueprint, or the sandbox's stand-ins."""
        if self.settings.sandbox is not None:
            return sandbox_root_module(self.job, self.settings.sandbox, options)
        return gke_root_module(self.job, options, module_dir=self.terraform.module_dir)

    def module_digest(self, options: BlueprintOptions) -> str:
        """A step's content hash: the module, leaving out a sandbox's per-run address and CA
        and where the engine keeps modules, so a finished job is not redone on resume."""
        if self.settings.sandbox is not None:
            return _digest(sandbox_root_module(self.job, PLACEHOLDER_CLUSTER, options))
        return _digest(gke_root_module(self.job, options))


def steps_for(gcp: GcpJob) -> list[Step]:
    """The plan of the job's action."""
    action = gcp.job.action
    first = [_preflight_step(gcp), _state_step(gcp)]
    if action is InfraAction.PAUSE:
        return [*first, *_pause_steps(gcp)]
    if action is InfraAction.RESUME:
        return [*first, *_resume_steps(gcp)]
    if action is InfraAction.DELETE:
        return [*first, _destroy_step(gcp)]
    if action is InfraAction.UPGRADE:
        return [*first, _upgrade_step(gcp), *_addon_steps(gcp)]
    create = attrs.evolve(_apply_step(gcp), compensate=_undo_create(gcp), compensate_partial=True)
    return [*first, create, *_addon_steps(gcp)]


def _addon_steps(gcp: GcpJob) -> list[Step]:
    """The cluster's add-on stack (``qengine_addons``), after the apply whose outputs describe
    the cluster: reached with the job's short-lived token (the simulator's in a sandbox, which
    installs the stack's test charts)."""
    from qengine_addons import AddonSettings, ServiceAccountIdentity, addon_steps, cluster_client

    from qengine_gcp.cluster_access import cluster_access_of

    def connect(ctx: StepContext) -> Any:
        outputs = ctx.inputs[APPLY]
        if gcp.settings.sandbox is not None:
            sandbox = gcp.settings.sandbox
            return cluster_client(sandbox.endpoint, sandbox.ca_pem, sandbox.token)
        access = cluster_access_of(gcp.access, outputs)
        return cluster_client(access.endpoint, access.ca_pem, access.token())

    def external_dns(ctx: StepContext) -> Mapping[str, str]:
        return dns_identity.service_account_annotations(ctx.inputs[APPLY])

    def cert_manager(ctx: StepContext) -> Mapping[str, str]:
        return cert_manager_identity.service_account_annotations(ctx.inputs[APPLY])

    identities: dict[str, ServiceAccountIdentity] = {}
    if cert_manager_identity.dns01_zone(gcp.job) is not None:
        identities[cert_manager_identity.ADDON] = cert_manager
    if dns_identity.external_dns_zone(gcp.job) is not None:
        identities[dns_identity.ADDON] = external_dns
    settings = AddonSettings(test_charts=gcp.settings.sandbox is not None)
    return addon_steps(gcp.job, connect, settings, after=(APPLY,), service_accounts=identities)


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _cluster_change(gcp: GcpJob, action: ChangeAction) -> Change:
    return Change(action=action, kind="gke-cluster", name=gcp.job.cluster.name)


def _preflight_step(gcp: GcpJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        if gcp.settings.sandbox is not None:
            ctx.emit_warning(SANDBOX_NOTICE)
        else:
            # Before any Google call: a job terraform cannot init is refused untouched.
            check_terraform_sources(gcp.terraform)
        if gcp.job.action in (InfraAction.CREATE, InfraAction.UPGRADE):
            from qengine_addons import require_helm

            require_helm(gcp.job)  # before the cluster is made: its add-ons need helm
        gcp.access.token()
        provider = provider_of(gcp.job)
        outputs = {"project": provider.project, "region": provider.region}
        if gcp.settings.sandbox is None or gcp.settings.container_endpoint is not None:
            version = gcp.job.cluster.kubernetes_version
            outputs["master_version"] = check_version_offered(gcp.access, version)
            ctx.emit_progress(f"GKE offers {outputs['master_version']} in {provider.region}")
            if gcp.job.action is InfraAction.CREATE:
                ctx.emit_progress(check_room_for_cluster(gcp.access, gcp.job))
        ctx.emit_progress(f"Google Cloud project {provider.project}, region {provider.region}")
        return outputs

    return Step(
        id=PREFLIGHT,
        run=run,
        description="check the Terraform sources, Google credentials, GKE's versions, the "
        "zones, machine types and quotas",
    )


def _state_step(gcp: GcpJob) -> Step:
    state = provider_of(gcp.job).state

    def run(ctx: StepContext) -> Mapping[str, str]:
        location, changes = ensure_state_backend(gcp.access, state, cluster_id=gcp.job.cluster.id)
        for change in changes:
            ctx.emit_progress(change)
        # Read before anything of this job is applied: whether a rollback may destroy.
        existed = _holds_resources(gcp, location)
        return {**attrs.asdict(location), CLUSTER_IN_STATE: "true" if existed else "false"}

    return Step(
        id=STATE,
        run=run,
        depends_on=(PREFLIGHT,),
        description="ensure the Terraform state bucket",
        changes=(
            Change(action=ChangeAction.CREATE, kind="terraform-state", name=gcp.job.cluster.id),
        ),
        content_hash=_digest(attrs.asdict(state)),
    )


def _holds_resources(gcp: GcpJob, location: StateLocation) -> bool:
    """Whether the cluster's state object exists and records any resource (a cluster made by
    an earlier job), as opposed to none or an empty state (a first create, or one undone)."""
    from google.api_core import exceptions

    blob = (
        storage_client(gcp.access)
        .bucket(location.bucket)
        .blob(f"{location.prefix}/default.tfstate")
    )
    with gcp.access.call(f"reading the Terraform state in {location.bucket}"):
        try:
            body = blob.download_as_bytes()
        except exceptions.NotFound:
            return False
    try:
        state = json.loads(body)
    except ValueError:
        return True  # unreadable: assume there is something to keep
    return bool(isinstance(state, dict) and state.get("resources"))


def _undo_create(gcp: GcpJob) -> Callable[[StepContext], None]:
    """The ``compensate`` of a create's apply: a cluster this job made from nothing (its state
    held no resource before the job) is destroyed, as a delete would; a converge of a cluster
    that existed is not undone (it fails, so the recap lists the apply as left)."""

    def undo(ctx: StepContext) -> None:
        if ctx.inputs.get(STATE, {}).get(CLUSTER_IN_STATE) != "false":
            raise InfrastructureError(
                f"the cluster {gcp.job.cluster.name} existed before this job: what the create "
                "changed in it is not undone",
                hint="Run the previous spec's create again to converge it back.",
            )
        ctx.emit_progress(f"the cluster {gcp.job.cluster.name} was made by this job: destroying it")
        _destroy(gcp, ctx)

    return undo


def _destroy(gcp: GcpJob, ctx: StepContext) -> None:
    """Terraform destroy of the cluster, the sizes a pause saved, the sandbox's stand-ins."""
    with terraform_for(
        ctx,
        gcp.access,
        gcp.module(BlueprintOptions()),
        _location(ctx),
        allow_destructive=True,
        sources=gcp.terraform.sources,
    ) as tf:
        tf.destroy()
    # A later create of the same cluster must not take it for a paused one.
    if forget_sizes(gcp.access, _location(ctx)):
        ctx.emit_progress("deleted the node pool sizes a pause had saved")
    if gcp.settings.sandbox is not None and gcp.settings.container_endpoint is not None:
        for change in remove_stand_ins(gcp.access, gcp.job):
            ctx.emit_progress(change)


def _location(ctx: StepContext) -> StateLocation:
    return StateLocation(bucket=ctx.input(STATE, "bucket"), prefix=ctx.input(STATE, "prefix"))


def _keeping_a_pause(gcp: GcpJob, ctx: StepContext, options: BlueprintOptions) -> BlueprintOptions:
    """A create or upgrade of a paused cluster keeps its pools' minimum at zero (resume
    brings the sizes back)."""
    if options.paused or gcp.job.action not in (InfraAction.CREATE, InfraAction.UPGRADE):
        return options
    if load_sizes(gcp.access, _location(ctx)) is None:
        return options
    ctx.emit_progress(f"the cluster {gcp.job.cluster.name} is paused: it stays paused")
    return attrs.evolve(options, paused=True)


def _apply(gcp: GcpJob, ctx: StepContext, options: BlueprintOptions) -> dict[str, str]:
    options = _keeping_a_pause(gcp, ctx, options)
    with terraform_for(
        ctx,
        gcp.access,
        gcp.module(options),
        _location(ctx),
        allow_destructive=gcp.job.allow_destructive_changes,
        sources=gcp.terraform.sources,
    ) as tf:
        plan = tf.plan()
        if plan.has_changes:
            tf.apply(plan)
        found = string_outputs(tf)
    if gcp.settings.sandbox is not None and gcp.settings.container_endpoint is not None:
        for change in register_stand_ins(gcp.access, gcp.job, options):
            ctx.emit_progress(change)
    wanted = (*OUTPUTS, dns_identity.ACCOUNT_OUTPUT, cert_manager_identity.ACCOUNT_OUTPUT)
    return {name: found[name] for name in wanted if name in found}


def _apply_step(
    gcp: GcpJob,
    options: BlueprintOptions | None = None,
    *,
    action: ChangeAction = ChangeAction.CREATE,
    after: tuple[str, ...] = (STATE,),
) -> Step:
    chosen = options or BlueprintOptions()

    def run(ctx: StepContext) -> Mapping[str, str]:
        return _apply(gcp, ctx, chosen)

    return Step(
        id=APPLY,
        run=run,
        depends_on=after,
        description="terraform apply of the GKE blueprint",
        changes=(_cluster_change(gcp, action),),
        content_hash=gcp.module_digest(chosen),
    )


def _state_outputs(gcp: GcpJob, ctx: StepContext) -> dict[str, str]:
    with terraform_for(
        ctx,
        gcp.access,
        gcp.module(BlueprintOptions()),
        _location(ctx),
        allow_destructive=False,
        sources=gcp.terraform.sources,
    ) as tf:
        return string_outputs(tf)


def _upgrade_step(gcp: GcpJob) -> Step:
    target = gcp.job.cluster.kubernetes_version

    def run(ctx: StepContext) -> Mapping[str, str]:
        current = _state_outputs(gcp, ctx).get("cluster_version")
        if not current:
            raise InvalidInputError(
                f"the cluster {gcp.job.cluster.name} has no state to upgrade",
                hint="Create the cluster first (action create).",
            )
        if not check_upgrade(current, target):
            ctx.emit_progress(f"the cluster already runs {target}")
        return _apply(gcp, ctx, BlueprintOptions())

    return Step(
        id=APPLY,
        run=run,
        depends_on=(STATE,),
        description=f"upgrade the GKE cluster to {target} (control plane, then node pools)",
        changes=(_cluster_change(gcp, ChangeAction.UPDATE),),
        content_hash=_digest(["upgrade", gcp.module_digest(BlueprintOptions())]),
    )


def _destroy_step(gcp: GcpJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        _destroy(gcp, ctx)
        return {}

    return Step(
        id=DESTROY,
        run=run,
        depends_on=(STATE,),
        description="terraform destroy of the cluster (the state bucket is kept)",
        changes=(_cluster_change(gcp, ChangeAction.DELETE),),
    )


SAVE = "gcp.save-node-pool-sizes"
SCALE = "gcp.scale-node-pools"
RESTORE = "gcp.restore-node-pool-sizes"
FORGET = "gcp.forget-node-pool-sizes"


def _pools_change(gcp: GcpJob, action: ChangeAction) -> Change:
    return Change(action=action, kind="gke-node-pools", name=gcp.job.cluster.name)


def _paused_by(ctx: StepContext) -> bool:
    """Whether this job's pause saved the sizes (so a rollback has a pause to undo)."""
    return ctx.inputs.get(SAVE, {}).get(SAVED_BY_THIS_JOB) == "yes"


def _pause_steps(gcp: GcpJob) -> list[Step]:
    def save(ctx: StepContext) -> Mapping[str, str]:
        return save_sizes_of(gcp.access, gcp.job, _location(ctx), ctx.emit_progress)

    def unsave(ctx: StepContext) -> None:
        if ctx.outputs.get(SAVED_BY_THIS_JOB) == "yes":
            forget_saved_by_pause(gcp.access, _location(ctx), ctx.emit_progress)

    def unapply(ctx: StepContext) -> None:
        # The job's minimum back, then the saved sizes (again, after the scale step's undo: a
        # pool the autoscaler moved while its minimum was zero).
        location = _location(ctx)
        if not _paused_by(ctx) or load_sizes(gcp.access, location) is None:
            ctx.emit_progress("the cluster was paused before this job: left paused")
            return
        _apply(gcp, ctx, BlueprintOptions())
        restore_sizes(gcp.access, gcp.job, location, ctx.cancel, ctx.emit_progress)

    def scale(ctx: StepContext) -> Mapping[str, str]:
        return scale_to_zero(gcp.access, gcp.job, ctx.cancel, ctx.emit_progress)

    def unscale(ctx: StepContext) -> None:
        undo_pause(
            gcp.access, gcp.job, _location(ctx), _paused_by(ctx), ctx.cancel, ctx.emit_progress
        )

    sizes = Change(action=ChangeAction.CREATE, kind="node-pool-sizes", name=gcp.job.cluster.id)
    return [
        Step(
            id=SAVE,
            run=save,
            depends_on=(STATE,),
            description="save the node pools' sizes next to the Terraform state",
            changes=(sizes,),
            compensate=unsave,
        ),
        attrs.evolve(
            _apply_step(
                gcp, BlueprintOptions(paused=True), action=ChangeAction.UPDATE, after=(STATE, SAVE)
            ),
            compensate=unapply,
            compensate_partial=True,
        ),
        Step(
            id=SCALE,
            run=scale,
            depends_on=(STATE, SAVE, APPLY),
            description="resize every node pool to zero nodes through GKE",
            changes=(_pools_change(gcp, ChangeAction.UPDATE),),
            compensate=unscale,
            compensate_partial=True,
        ),
    ]


def _resume_steps(gcp: GcpJob) -> list[Step]:
    def unapply(ctx: StepContext) -> None:
        # The paused blueprint (minimum zero) first, then zero nodes, as a pause does.
        location = _location(ctx)
        if load_sizes(gcp.access, location) is None:
            ctx.emit_progress(
                "the cluster was not paused before this job: its node pools are left as they are"
            )
            return
        _apply(gcp, ctx, BlueprintOptions(paused=True))
        undo_resume(gcp.access, gcp.job, location, ctx.cancel, ctx.emit_progress)

    def restore(ctx: StepContext) -> Mapping[str, str]:
        return restore_sizes(gcp.access, gcp.job, _location(ctx), ctx.cancel, ctx.emit_progress)

    def unrestore(ctx: StepContext) -> None:
        undo_resume(gcp.access, gcp.job, _location(ctx), ctx.cancel, ctx.emit_progress)

    def forget(ctx: StepContext) -> Mapping[str, str]:
        return forget_sizes_of(gcp.access, _location(ctx), ctx.emit_progress)

    def unforget(ctx: StepContext) -> None:
        record = ctx.outputs.get(SAVED_RECORD)
        if record:
            put_back_record(gcp.access, _location(ctx), record, ctx.emit_progress)

    sizes = Change(action=ChangeAction.DELETE, kind="node-pool-sizes", name=gcp.job.cluster.id)
    return [
        attrs.evolve(
            _apply_step(gcp, BlueprintOptions(), action=ChangeAction.UPDATE),
            compensate=unapply,
            compensate_partial=True,
        ),
        Step(
            id=RESTORE,
            run=restore,
            depends_on=(STATE, APPLY),
            description="give the node pools their saved sizes back through GKE",
            changes=(_pools_change(gcp, ChangeAction.UPDATE),),
            compensate=unrestore,
            compensate_partial=True,
        ),
        Step(
            id=FORGET,
            run=forget,
            depends_on=(STATE, RESTORE),
            description="delete the saved node pool sizes",
            changes=(sizes,),
            compensate=unforget,
        ),
    ]
