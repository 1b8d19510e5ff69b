"""Pausing scales the node groups to zero through EKS; resuming gives them their sizes back.

The pinned EKS module's managed node groups ignore changes to ``desired_size`` (so a cluster
autoscaler can own it): a Terraform apply moves min and max, never the number of nodes. So:

- pause: :func:`save_sizes_of` (every node group's min, max, desired as EKS holds them, saved
  once, see :mod:`qengine_aws.saved_sizes`), :func:`scale_to_zero` (``UpdateNodegroupConfig``
  min 0, desired 0, max kept; wait until ACTIVE), then the apply with min 0;
- resume: :func:`restore_sizes` (each node group gets the job's min and max and its saved
  desired size clamped into them; when nothing was saved, a node group at zero gets the job's
  desired, or min, and one running nodes keeps its number, clamped; waited for), then the
  apply (which then changes no node group's size, and creates the ones added to the job
  meanwhile), then :func:`forget_sizes_of`.

EKS is asked *before* the apply in both directions, deliberately: the AWS provider sends a
node group's new min and max together with the desired size it has in state, and EKS refuses
a desired size outside [min, max]. An apply of min 2 over a node group at 0 nodes (resume), or
of a lowered max over a node group holding more nodes (pause), would fail. Scaled first, the
node group's desired size is inside the range the apply then sets.

A pause or a resume that fails or is cancelled is rolled back, newest step first, to what
the cluster was before the job (:func:`undo_pause`, :func:`undo_resume`): a pause that saved
the sizes gives them back through EKS, applies the blueprint unpaused and deletes the record
it wrote; a resume of a paused cluster scales it to zero again, applies the paused blueprint
and puts back the saved record it deleted. A pause of a cluster that was already paused, or a
resume of one that was not, changed nothing a rollback must undo.

While paused the job may change: a node group added to the job has nothing saved and is
created by the resume's apply at the job's sizes; a node group removed from the job is not
restored (it stays at zero) and the apply removes it, which, as for any node group, needs
``allow_destructive_changes``. Saved sizes of node groups the job no longer has are dropped
with the record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from qengine.plugin import CancelToken
from qengine.spec import InfrastructureJob
from qengine_aws.blueprint import provider_of
from qengine_aws.credentials import AwsAccess
from qengine_aws.node_groups import Scaling, cluster_node_groups, converge
from qengine_aws.saved_sizes import SavedSizes, forget_sizes, load_sizes, save_sizes
from qengine_aws.spec import NodeGroup
from qengine_aws.state_backend import StateLocation

Emit = Callable[[str], None]
SAVED_BY_THIS_JOB = "saved_by_this_job"
SAVED_RECORD = "saved_record"


def resume_target(group: NodeGroup, saved: Scaling | None, current: int = 0) -> Scaling:
    """The job's min and max, and the saved desired size clamped into them.

    Without a saved size: a node group at zero nodes gets the job's desired size (its min when
    it sets none); one running nodes (a resume of a cluster that was not paused) keeps its
    number, clamped, rather than losing what an autoscaler gave it.
    """
    if saved is not None:
        wanted = saved.desired_size
    elif current > 0:
        wanted = current
    else:
        wanted = group.desired_size if group.desired_size is not None else group.min_size
    desired = min(max(wanted, group.min_size), group.max_size)
    return Scaling(min_size=group.min_size, max_size=group.max_size, desired_size=desired)


def size_outputs(groups: Mapping[str, Scaling]) -> dict[str, str]:
    """Step outputs: ``<group>.min``, ``<group>.max``, ``<group>.desired`` per node group."""
    outputs: dict[str, str] = {}
    for name, scaling in sorted(groups.items()):
        outputs[f"{name}.min"] = str(scaling.min_size)
        outputs[f"{name}.max"] = str(scaling.max_size)
        outputs[f"{name}.desired"] = str(scaling.desired_size)
    return outputs


def save_sizes_of(
    access: AwsAccess, job: InfrastructureJob, location: StateLocation, emit: Emit
) -> dict[str, str]:
    """Save the node groups' sizes unless a record exists; the saved sizes as outputs."""
    kept = load_sizes(access, location, job.cluster.id)
    if kept is not None:
        emit("the cluster is already paused: the sizes saved by the first pause are kept")
        return {**size_outputs(kept.node_groups), SAVED_BY_THIS_JOB: "no"}
    groups = cluster_node_groups(access, job.cluster.name)
    if not groups:
        emit(f"EKS has no node group of {job.cluster.name} yet: no size to save")
        return {SAVED_BY_THIS_JOB: "no"}
    sizes = SavedSizes(
        cluster_name=job.cluster.name,
        node_groups={name: group.scaling for name, group in groups.items()},
    )
    if not save_sizes(access, location, job.cluster.id, sizes):
        # Written by another run between our read and our write: that one stands.
        emit("the sizes saved by another pause of this cluster are kept")
        kept = load_sizes(access, location, job.cluster.id)
        return {
            **size_outputs(kept.node_groups if kept is not None else {}),
            SAVED_BY_THIS_JOB: "no",
        }
    for name, scaling in sorted(sizes.node_groups.items()):
        emit(f"saved the size of the node group {name}: {scaling.describe()}")
    return {**size_outputs(sizes.node_groups), SAVED_BY_THIS_JOB: "yes"}


def scale_to_zero(
    access: AwsAccess, job: InfrastructureJob, cancel: CancelToken, emit: Emit
) -> dict[str, str]:
    """Every node group of the cluster to min 0 and desired 0 (max kept), waited for."""
    groups = cluster_node_groups(access, job.cluster.name)
    targets = {
        group.name: Scaling(min_size=0, max_size=group.scaling.max_size, desired_size=0)
        for group in groups.values()
    }
    held = converge(access, job.cluster.name, targets, cancel=cancel)
    for name, group in sorted(groups.items()):
        emit(f"the node group {name} ({group.name}) is at zero nodes")
    return size_outputs({name: held[g.name] for name, g in groups.items() if g.name in held})


def restore_sizes(
    access: AwsAccess,
    job: InfrastructureJob,
    location: StateLocation,
    cancel: CancelToken,
    emit: Emit,
) -> dict[str, str]:
    """Give every node group of the job that EKS holds its resume target; wait for it."""
    saved = load_sizes(access, location, job.cluster.id)
    remembered = saved.node_groups if saved is not None else {}
    groups = cluster_node_groups(access, job.cluster.name)
    targets: dict[str, Scaling] = {}
    wanted = provider_of(job).node_groups
    for spec in wanted:
        found = groups.get(spec.name)
        if found is None:
            emit(f"the node group {spec.name} is new: the apply creates it at the job's sizes")
            continue
        target = resume_target(spec, remembered.get(spec.name), found.scaling.desired_size)
        targets[found.name] = target
        emit(f"restoring the node group {spec.name}: {target.describe()}")
    for name in sorted(set(groups) - {spec.name for spec in wanted}):
        emit(f"the node group {name} is no longer in the job: left at zero for the apply")
    held = converge(access, job.cluster.name, targets, cancel=cancel)
    by_group = {name: held[g.name] for name, g in groups.items() if g.name in held}
    return size_outputs(by_group)


def forget_sizes_of(
    access: AwsAccess, job: InfrastructureJob, location: StateLocation, emit: Emit
) -> dict[str, str]:
    """Delete the saved sizes; the node groups' sizes as EKS now holds them as outputs, and
    the record deleted (``saved_record``, for a rollback to put back)."""
    saved = load_sizes(access, location, job.cluster.id)
    forget_sizes(access, location, job.cluster.id)
    emit("deleted the saved node group sizes")
    groups = cluster_node_groups(access, job.cluster.name)
    outputs = size_outputs({name: group.scaling for name, group in groups.items()})
    if saved is not None:
        outputs[SAVED_RECORD] = saved.to_json()
    return outputs


def undo_pause(
    access: AwsAccess,
    job: InfrastructureJob,
    location: StateLocation,
    saved_by_this_job: bool,
    cancel: CancelToken,
    emit: Emit,
) -> bool:
    """Give the node groups back the sizes this pause saved; False (nothing done) when the
    pause saved none (the cluster was paused before it, or had no node group)."""
    if not saved_by_this_job or load_sizes(access, location, job.cluster.id) is None:
        emit("the cluster was paused before this job: left paused")
        return False
    restore_sizes(access, job, location, cancel, emit)
    return True


def forget_saved_by_pause(
    access: AwsAccess, job: InfrastructureJob, location: StateLocation, emit: Emit
) -> None:
    """Delete the record a rolled-back pause wrote."""
    forget_sizes(access, location, job.cluster.id)
    emit("deleted the node group sizes this pause had saved")


def undo_resume(
    access: AwsAccess,
    job: InfrastructureJob,
    location: StateLocation,
    cancel: CancelToken,
    emit: Emit,
) -> bool:
    """Scale the node groups back to zero when the cluster was paused before this resume
    (its saved record is there: the resume had not deleted it, or its rollback put it back);
    False (nothing done) otherwise."""
    if load_sizes(access, location, job.cluster.id) is None:
        emit("the cluster was not paused before this job: its node groups are left as they are")
        return False
    scale_to_zero(access, job, cancel, emit)
    return True


def put_back_record(
    access: AwsAccess, job: InfrastructureJob, location: StateLocation, record: str, emit: Emit
) -> None:
    """Write back the saved sizes a rolled-back resume deleted (``record``: their JSON)."""
    sizes = SavedSizes.from_json(record)
    if save_sizes(access, location, job.cluster.id, sizes):
        emit("put back the saved node group sizes")
