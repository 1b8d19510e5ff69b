"""The steps of an AWS infrastructure job, one plan per action.

Every plan starts with ``aws.preflight`` (who, where, room for a cluster) and
``aws.state-backend`` (bucket, lock table, key). Then:

- create: ``aws.apply`` of the blueprint (node groups at their sizes);
- pause: ``aws.save-node-group-sizes`` (EKS's sizes, saved once next to the state),
  ``aws.scale-node-groups`` (EKS: min and desired 0, max kept, waited for), then ``aws.apply``
  with every node group's min at zero;
- resume: ``aws.restore-node-group-sizes`` (EKS: the job's min and max, the saved desired size
  clamped into them, waited for), ``aws.apply`` of the blueprint, ``aws.forget-node-group-sizes``
  (see :mod:`qengine_aws.pause` for why EKS is asked before the apply);
- upgrade: ``aws.upgrade-control-plane`` (the cluster at the new version, node groups kept at
  the old one; a skipped minor version or a downgrade is refused before anything changes),
  then ``aws.upgrade-node-groups``;
- delete: ``aws.cleanup-load-balancers`` then ``aws.destroy``; the state bucket is kept.

create and upgrade end with the cluster's add-on stack (:func:`qengine_addons.addon_steps`:
``addons.crds``, one ``addons.<name>`` per add-on, ``addons.remove.<name>`` per add-on turned
off) after the apply, reaching the cluster through the apply's outputs and an EKS token (the
simulator's token in the sandbox, which installs the test stand-in charts).

Steps that apply return the cluster's access details as outputs: ``endpoint``,
``certificate_authority`` (base64 PEM), ``oidc_issuer_url``, ``cluster_name``,
``cluster_version``, ``vpc_id``, ``external_dns_role_arn`` when the job runs external-dns
on Route53, ``cluster_autoscaler_role_arn`` when it runs cluster-autoscaler and
``cert_manager_role_arn`` when its issuers solve ACME DNS-01 in Route53 (the add-on steps
annotate the add-ons' service accounts with them: IRSA).
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
from qengine_aws import autoscaler_identity, cert_manager_identity, dns_identity
from qengine_aws.blueprint import BlueprintOptions, eks_root_module
from qengine_aws.cluster_outputs import ClusterOutputs
from qengine_aws.credentials import AwsAccess, CredentialRequest, SecretOpener
from qengine_aws.load_balancers import cleanup_load_balancers
from qengine_aws.pause import (
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
from qengine_aws.preflight import caller_identity, check_region
from qengine_aws.quotas import check_room_for_cluster
from qengine_aws.sandbox import PLACEHOLDER_CLUSTER, SANDBOX_NOTICE, sandbox_root_module
from qengine_aws.sandbox_eks import register_stand_ins, remove_stand_ins
from qengine_aws.saved_sizes import forget_sizes, load_sizes
from qengine_aws.settings import AwsSettings
from qengine_aws.state_backend import StateLocation, ensure_state_backend, holds_resources
from qengine_aws.terraform_run import string_outputs, terraform_for
from qengine_aws.terraform_sources import check_terraform_sources
from qengine_aws.upgrade import check_upgrade

PREFLIGHT = "aws.preflight"
STATE = "aws.state-backend"
CLUSTER_IN_STATE = "cluster_in_state"


@attrs.frozen(kw_only=True)
class AwsJob:
    """What every step of one job shares: the job, its access to AWS, the settings
    (the plugin's, and the engine's Terraform settings: provider sources, module directory)."""

    job: InfrastructureJob
    access: AwsAccess
    settings: AwsSettings
    terraform: TerraformSettings = attrs.field(factory=TerraformSettings)

    @classmethod
    def of(
        cls,
        job: InfrastructureJob,
        open_secret: SecretOpener,
        settings: AwsSettings,
        terraform: TerraformSettings | None = None,
    ) -> AwsJob:
        """Build it; nothing touches the network until a step runs."""
        access = AwsAccess(CredentialRequest.of(job), open_secret=open_secret, settings=settings)
        terraform = terraform or TerraformSettings()
        return cls(job=job, access=access, settings=settings, terraform=terraform)

    def module(self, options: BlueprintOptions) -> dict[str, Any]:
        """The root module to apply: the real blueprint (modules from the engine's module
        directory when it has one), or the sandbox's stand-ins."""
        if self.settings.sandbox is not None:
            return sandbox_root_module(self.job, self.settings.sandbox, options)
        return eks_root_module(self.job, options, module_dir=self.terraform.module_dir)

    def module_digest(self, options: BlueprintOptions) -> str:
        """A step's content hash: the module, leaving out a sandbox's per-run address and CA
        (a new simulator every run) and where the engine keeps modules (the same pinned
        versions wherever they are), so a finished job is not redone on resume."""
        if self.settings.sandbox is not None:
            return _digest(sandbox_root_module(self.job, PLACEHOLDER_CLUSTER, options))
        return _digest(eks_root_module(self.job, options))


def steps_for(aws: AwsJob) -> list[Step]:
    """The plan of the job's action."""
    first = [_preflight_step(aws), _state_step(aws)]
    action = aws.job.action
    if action is InfraAction.CREATE:
        apply = attrs.evolve(
            _apply_step(aws, "aws.apply", BlueprintOptions(), ChangeAction.CREATE),
            compensate=_undo_create(aws),
            compensate_partial=True,
        )
        return [*first, apply, *_addon_steps(aws, "aws.apply")]
    if action is InfraAction.PAUSE:
        return [*first, *_pause_steps(aws)]
    if action is InfraAction.RESUME:
        return [*first, *_resume_steps(aws)]
    if action is InfraAction.UPGRADE:
        return [*first, *_upgrade_steps(aws), *_addon_steps(aws, "aws.upgrade-node-groups")]
    return [*first, *_delete_steps(aws)]


def _addon_steps(aws: AwsJob, applied: str) -> list[Step]:
    """The add-on stack's steps, after the step ``applied`` whose outputs describe the cluster."""
    from qengine_addons import AddonSettings, ServiceAccountIdentity, addon_steps, cluster_client

    def connect(ctx: StepContext) -> Any:
        outputs = ClusterOutputs.of_step(ctx.inputs[applied])
        if aws.settings.sandbox is not None:
            token = aws.settings.sandbox.token
        else:
            from qengine_aws.token import EksTokenProvider

            token = EksTokenProvider(aws.access, outputs.cluster_name)()
        return cluster_client(outputs.endpoint, outputs.ca_pem(), token)

    def external_dns(ctx: StepContext) -> Mapping[str, str]:
        return dns_identity.service_account_annotations(ctx.inputs[applied])

    def cluster_autoscaler(ctx: StepContext) -> Mapping[str, str]:
        return autoscaler_identity.service_account_annotations(ctx.inputs[applied])

    def cert_manager(ctx: StepContext) -> Mapping[str, str]:
        return cert_manager_identity.service_account_annotations(ctx.inputs[applied])

    identities: dict[str, ServiceAccountIdentity] = {}
    if cert_manager_identity.dns01_zone(aws.job) is not None:
        identities[cert_manager_identity.ADDON] = cert_manager
    if dns_identity.external_dns_zone(aws.job) is not None:
        identities[dns_identity.ADDON] = external_dns
    if autoscaler_identity.autoscaled(aws.job):
        identities[autoscaler_identity.ADDON] = cluster_autoscaler
    settings = AddonSettings(test_charts=aws.settings.sandbox is not None)
    return addon_steps(aws.job, connect, settings, after=(applied,), service_accounts=identities)


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _cluster_change(aws: AwsJob, action: ChangeAction) -> Change:
    return Change(action=action, kind="eks-cluster", name=aws.job.cluster.name)


def _preflight_step(aws: AwsJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        if aws.settings.sandbox is not None:
            ctx.emit_warning(SANDBOX_NOTICE)
        else:
            # Before any AWS call: a job terraform cannot init is refused with nothing touched.
            check_terraform_sources(aws.terraform)
        if aws.job.action in (InfraAction.CREATE, InfraAction.UPGRADE):
            from qengine_addons import require_helm

            require_helm(aws.job)  # before the cluster is made: its add-ons need helm
        identity = caller_identity(aws.access)
        check_region(aws.access)
        if aws.job.action is InfraAction.CREATE:
            ctx.emit_progress(
                check_room_for_cluster(
                    aws.access, aws.job.cluster.name, nat_gateway=_provider(aws).nat_gateway
                )
            )
        ctx.emit_progress(f"AWS account {identity.account} as {identity.arn}")
        return {"account": identity.account, "arn": identity.arn}

    return Step(
        id=PREFLIGHT,
        run=run,
        description="check the Terraform sources, AWS credentials, region and quota",
    )


def _undo_create(aws: AwsJob) -> Callable[[StepContext], None]:
    """The ``compensate`` of a create's apply: a cluster this job made from nothing (its state
    held no resource before the job) is destroyed, as a delete would; a converge of a cluster
    that existed is not undone (it fails, so the recap lists the apply as left)."""

    def undo(ctx: StepContext) -> None:
        if ctx.inputs.get(STATE, {}).get(CLUSTER_IN_STATE) != "false":
            raise InfrastructureError(
                f"the cluster {aws.job.cluster.name} existed before this job: what the create "
                "changed in it is not undone",
                hint="Run the previous spec's create again to converge it back.",
            )
        ctx.emit_progress(f"the cluster {aws.job.cluster.name} was made by this job: destroying it")
        with terraform_for(
            ctx,
            aws.access,
            aws.module(BlueprintOptions()),
            _location(ctx),
            allow_destructive=True,
            sources=aws.terraform.sources,
        ) as tf:
            tf.destroy()
        if aws.settings.sandbox is not None:
            for change in remove_stand_ins(aws.access, aws.job.cluster.name):
                ctx.emit_progress(change)

    return undo


def _state_step(aws: AwsJob) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        location, changes = ensure_state_backend(
            aws.access,
            _provider(aws).state,
            cluster_id=aws.job.cluster.id,
            account=ctx.input(PREFLIGHT, "account"),
            tls_only=not (aws.settings.endpoint_url or "").startswith("http://"),
        )
        for change in changes:
            ctx.emit_progress(change)
        # Read before anything of this job is applied: whether a rollback may destroy.
        existed = holds_resources(aws.access, location)
        return {**attrs.asdict(location), CLUSTER_IN_STATE: "true" if existed else "false"}

    return Step(
        id=STATE,
        run=run,
        depends_on=(PREFLIGHT,),
        description="ensure the Terraform state bucket and lock table",
        changes=(
            Change(action=ChangeAction.CREATE, kind="terraform-state", name=aws.job.cluster.id),
        ),
        content_hash=_digest(attrs.asdict(_provider(aws).state)),
    )


def _provider(aws: AwsJob) -> Any:
    return aws.job.cluster.provider


def _location(ctx: StepContext) -> StateLocation:
    fields = ("bucket", "key", "region", "lock_table", "kms_key_arn")
    return StateLocation(**{name: ctx.input(STATE, name) for name in fields})


def _keeping_a_pause(aws: AwsJob, ctx: StepContext, options: BlueprintOptions) -> BlueprintOptions:
    """A create or upgrade of a paused cluster keeps it paused: its node groups stay at zero.

    Applying the job's sizes would put the node groups' minimum over zero nodes, which EKS
    refuses; and the user paused the cluster on purpose. ``resume`` brings the sizes back.
    """
    if options.paused or aws.job.action not in (InfraAction.CREATE, InfraAction.UPGRADE):
        return options
    if load_sizes(aws.access, _location(ctx), aws.job.cluster.id) is None:
        return options
    ctx.emit_progress(
        f"the cluster {aws.job.cluster.name} is paused: its node groups stay at zero"
        " (resume brings them back)"
    )
    return attrs.evolve(options, paused=True)


def _apply(aws: AwsJob, ctx: StepContext, options: BlueprintOptions) -> dict[str, str]:
    options = _keeping_a_pause(aws, ctx, options)
    with terraform_for(
        ctx,
        aws.access,
        aws.module(options),
        _location(ctx),
        allow_destructive=aws.job.allow_destructive_changes,
        sources=aws.terraform.sources,
    ) as tf:
        plan = tf.plan()
        if plan.has_changes:
            tf.apply(plan)
        module_outputs = tf.outputs()
        outputs = ClusterOutputs.of(module_outputs).step_outputs()
        outputs.update(dns_identity.role_output(module_outputs))
        outputs.update(autoscaler_identity.role_output(module_outputs))
        outputs.update(cert_manager_identity.role_output(module_outputs))
    if aws.settings.sandbox is not None:
        account = caller_identity(aws.access).account
        for change in register_stand_ins(aws.access, aws.job, options, account=account):
            ctx.emit_progress(change)
    return outputs


def _apply_step(
    aws: AwsJob,
    step_id: str,
    options: BlueprintOptions,
    action: ChangeAction,
    *,
    after: tuple[str, ...] = (STATE,),
) -> Step:
    def run(ctx: StepContext) -> Mapping[str, str]:
        return _apply(aws, ctx, options)

    return Step(
        id=step_id,
        run=run,
        depends_on=after,
        description=f"terraform apply of the EKS blueprint ({step_id})",
        changes=(_cluster_change(aws, action),),
        content_hash=aws.module_digest(options),
    )


def _state_outputs(aws: AwsJob, ctx: StepContext) -> dict[str, str]:
    """The string outputs the cluster's state holds now (nothing is planned or applied)."""
    with terraform_for(
        ctx,
        aws.access,
        aws.module(BlueprintOptions()),
        _location(ctx),
        allow_destructive=False,
        sources=aws.terraform.sources,
    ) as tf:
        return string_outputs(tf)


def _current_version(aws: AwsJob, ctx: StepContext) -> str:
    version = _state_outputs(aws, ctx).get("cluster_version")
    if not version:
        raise InvalidInputError(
            f"the cluster {aws.job.cluster.name} has no state to upgrade",
            hint="Create the cluster first (action create).",
        )
    return version


def _upgrade_steps(aws: AwsJob) -> list[Step]:
    target = aws.job.cluster.kubernetes_version

    def control_plane(ctx: StepContext) -> Mapping[str, str]:
        current = _current_version(aws, ctx)
        if not check_upgrade(current, target):
            ctx.emit_progress(f"the control plane already runs {target}")
        # Node groups stay at the version they run until the control plane is upgraded.
        return _apply(aws, ctx, BlueprintOptions(node_version=current))

    steady = aws.module_digest(BlueprintOptions())
    return [
        Step(
            id="aws.upgrade-control-plane",
            run=control_plane,
            depends_on=(STATE,),
            description=f"upgrade the EKS control plane to {target}",
            changes=(_cluster_change(aws, ChangeAction.UPDATE),),
            content_hash=_digest(["control-plane", steady]),
        ),
        _apply_step(
            aws,
            "aws.upgrade-node-groups",
            BlueprintOptions(),
            ChangeAction.UPDATE,
            after=(STATE, "aws.upgrade-control-plane"),
        ),
    ]


def _delete_steps(aws: AwsJob) -> list[Step]:
    def cleanup(ctx: StepContext) -> Mapping[str, str]:
        vpc_id = _state_outputs(aws, ctx).get("vpc_id", "")
        deleted = (
            cleanup_load_balancers(
                aws.access, vpc_id=vpc_id, cluster_name=aws.job.cluster.name, cancel=ctx.cancel
            )
            if vpc_id
            else []
        )
        for item in deleted:
            ctx.emit_progress(f"deleted {item}")
        return {"deleted": str(len(deleted))}

    def destroy(ctx: StepContext) -> Mapping[str, str]:
        with terraform_for(
            ctx,
            aws.access,
            aws.module(BlueprintOptions()),
            _location(ctx),
            allow_destructive=True,
            sources=aws.terraform.sources,
        ) as tf:
            tf.destroy()
        if aws.settings.sandbox is not None:
            for change in remove_stand_ins(aws.access, aws.job.cluster.name):
                ctx.emit_progress(change)
        # A pause's record outlives nothing: a cluster created again under this id starts
        # running, and its first pause must save its own sizes, not find these.
        location = _location(ctx)
        if load_sizes(aws.access, location, aws.job.cluster.id) is not None:
            forget_sizes(aws.access, location, aws.job.cluster.id)
            ctx.emit_progress("deleted the node group sizes a pause of this cluster had saved")
        return {}

    return [
        Step(
            id="aws.cleanup-load-balancers",
            run=cleanup,
            depends_on=(STATE,),
            description="delete the load balancers and security groups Kubernetes made",
            changes=(
                Change(
                    action=ChangeAction.DELETE, kind="load-balancers", name=aws.job.cluster.name
                ),
            ),
        ),
        Step(
            id="aws.destroy",
            run=destroy,
            depends_on=(STATE, "aws.cleanup-load-balancers"),
            description="terraform destroy of the cluster (the state bucket is kept)",
            changes=(_cluster_change(aws, ChangeAction.DELETE),),
        ),
    ]


SAVE = "aws.save-node-group-sizes"
SCALE = "aws.scale-node-groups"
RESTORE = "aws.restore-node-group-sizes"


def _node_group_change(aws: AwsJob, action: ChangeAction) -> Change:
    return Change(action=action, kind="eks-node-groups", name=aws.job.cluster.name)


def _paused_by(ctx: StepContext) -> bool:
    """Whether this job's pause saved the sizes (so a rollback has a pause to undo)."""
    return ctx.inputs.get(SAVE, {}).get(SAVED_BY_THIS_JOB) == "yes"


def _pause_steps(aws: AwsJob) -> list[Step]:
    def save(ctx: StepContext) -> Mapping[str, str]:
        return save_sizes_of(aws.access, aws.job, _location(ctx), ctx.emit_progress)

    def unsave(ctx: StepContext) -> None:
        if ctx.outputs.get(SAVED_BY_THIS_JOB) == "yes":
            forget_saved_by_pause(aws.access, aws.job, _location(ctx), ctx.emit_progress)

    def scale(ctx: StepContext) -> Mapping[str, str]:
        return scale_to_zero(aws.access, aws.job, ctx.cancel, ctx.emit_progress)

    def unscale(ctx: StepContext) -> None:
        undo_pause(
            aws.access, aws.job, _location(ctx), _paused_by(ctx), ctx.cancel, ctx.emit_progress
        )

    def unapply(ctx: StepContext) -> None:
        # EKS first, then the apply (see qengine_aws.pause: the provider would refuse min > 0
        # over a node group at zero nodes).
        if undo_pause(
            aws.access, aws.job, _location(ctx), _paused_by(ctx), ctx.cancel, ctx.emit_progress
        ):
            _apply(aws, ctx, BlueprintOptions())

    def apply_paused(ctx: StepContext) -> Mapping[str, str]:
        outputs = _apply(aws, ctx, BlueprintOptions(paused=True))
        if autoscaler_identity.autoscaled(aws.job):
            # The paused blueprint takes resizing away from cluster-autoscaler's role; an
            # autoscaler that ran during the drain may have given a node group nodes back
            # before that, so the node groups are scaled to zero once more.
            scale_to_zero(aws.access, aws.job, ctx.cancel, ctx.emit_progress)
        return outputs

    sizes = Change(action=ChangeAction.CREATE, kind="node-group-sizes", name=aws.job.cluster.id)
    return [
        Step(
            id=SAVE,
            run=save,
            depends_on=(STATE,),
            description="save the node groups' sizes next to the Terraform state",
            changes=(sizes,),
            compensate=unsave,
        ),
        Step(
            id=SCALE,
            run=scale,
            depends_on=(STATE, SAVE),
            description="scale every node group to zero nodes through EKS",
            changes=(_node_group_change(aws, ChangeAction.UPDATE),),
            compensate=unscale,
            compensate_partial=True,
        ),
        attrs.evolve(
            _apply_step(
                aws,
                "aws.apply",
                BlueprintOptions(paused=True),
                ChangeAction.UPDATE,
                after=(STATE, SAVE, SCALE),
            ),
            run=apply_paused,
            compensate=unapply,
            compensate_partial=True,
        ),
    ]


def _resume_steps(aws: AwsJob) -> list[Step]:
    def restore(ctx: StepContext) -> Mapping[str, str]:
        return restore_sizes(aws.access, aws.job, _location(ctx), ctx.cancel, ctx.emit_progress)

    def unrestore(ctx: StepContext) -> None:
        undo_resume(aws.access, aws.job, _location(ctx), ctx.cancel, ctx.emit_progress)

    def unapply(ctx: StepContext) -> None:
        # EKS first (back to zero), then the paused blueprint (min 0), as a pause does.
        if undo_resume(aws.access, aws.job, _location(ctx), ctx.cancel, ctx.emit_progress):
            _apply(aws, ctx, BlueprintOptions(paused=True))

    def forget(ctx: StepContext) -> Mapping[str, str]:
        return forget_sizes_of(aws.access, aws.job, _location(ctx), ctx.emit_progress)

    def unforget(ctx: StepContext) -> None:
        record = ctx.outputs.get(SAVED_RECORD)
        if record:
            put_back_record(aws.access, aws.job, _location(ctx), record, ctx.emit_progress)

    sizes = Change(action=ChangeAction.DELETE, kind="node-group-sizes", name=aws.job.cluster.id)
    return [
        Step(
            id=RESTORE,
            run=restore,
            depends_on=(STATE,),
            description="give the node groups their saved sizes back through EKS",
            changes=(_node_group_change(aws, ChangeAction.UPDATE),),
            compensate=unrestore,
            compensate_partial=True,
        ),
        attrs.evolve(
            _apply_step(
                aws, "aws.apply", BlueprintOptions(), ChangeAction.UPDATE, after=(STATE, RESTORE)
            ),
            compensate=unapply,
            compensate_partial=True,
        ),
        Step(
            id="aws.forget-node-group-sizes",
            run=forget,
            depends_on=(STATE, "aws.apply"),
            description="delete the saved node group sizes",
            changes=(sizes,),
            compensate=unforget,
        ),
    ]
