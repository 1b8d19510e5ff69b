"""Pause and resume of a GKE cluster's node pools (the control plane stays).

- pause: save each pool's autoscaling range and nodes per zone (read from GKE and Compute)
  next to the state, once: a second pause keeps the first one's sizes; apply the blueprint
  with every pool's autoscaling minimum at zero (its maximum kept); then ``setSize`` 0 for
  every pool, waited for. The minimum goes to zero first: a resize under a minimum of one
  would be undone by the cluster autoscaler.
- resume: apply the blueprint (the job's ranges: the autoscaler brings each pool to its
  minimum), then give each zone its saved nodes back, clamped into the job's range (a range
  is per zone), and forget the saved sizes. A pool whose zones had the same count gets it by
  one ``setSize``; a pool whose zones differed gets each zone's own count by resizing that
  zone's instance group (:func:`qengine_gcp.node_pools.set_zone_sizes`). A record saved
  before zones were (no zone known) gives every zone the largest zone's count.

Each step returns the sizes it read or set as outputs, ``<pool>.min``, ``<pool>.max``,
``<pool>.nodes`` (the largest zone's nodes) and ``<pool>.zones`` (``ZONE=COUNT`` for each zone,
comma-separated).

A pause or a resume that fails or is cancelled is rolled back, newest step first, to what the
cluster was before the job:

- a pause that saved the sizes (``saved_by_this_job``) gives each pool its saved nodes per
  zone back (:func:`undo_pause`: ``setSize``, clamped into the job's range), applies the
  blueprint unpaused (the job's minimum back) and gives the sizes back once more (a pool the
  autoscaler moved in between), then deletes the record it wrote. A pause of a cluster that
  was already paused (the record was there) changed nothing a rollback must undo: it stays
  paused with the first pause's sizes;
- a resume of a paused cluster (the record is there: the resume had not deleted it yet, or
  its rollback put it back, :func:`put_back_record`) resizes the pools to zero
  (:func:`undo_resume`), applies the paused blueprint (minimum zero) and resizes them to zero
  again (a resize under a minimum above zero is undone by the autoscaler), so the cluster is
  left paused with its saved sizes. A resume of a cluster that was not paused is not undone.
"""

from __future__ import annotations

from collections.abc import Callable

from qengine.plugin import CancelToken
from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import provider_of
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import PoolSize, pool_sizes, set_size, set_zone_sizes
from qengine_gcp.saved_sizes import forget_sizes, load_record, load_sizes, put_back, save_sizes
from qengine_gcp.state_backend import StateLocation

Emit = Callable[[str], None]
#: Output of the save step: ``yes`` when this job's pause wrote the record (a rollback then
#: gives the sizes back and deletes it), ``no`` when the cluster was paused before it.
SAVED_BY_THIS_JOB = "saved_by_this_job"
#: Output of the forget step: the record it deleted, for a rollback to put back.
SAVED_RECORD = "saved_record"


def _outputs(sizes: dict[str, PoolSize]) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, size in sizes.items():
        outputs[f"{name}.min"] = str(size.min_nodes)
        outputs[f"{name}.max"] = str(size.max_nodes)
        outputs[f"{name}.nodes"] = str(size.nodes)
        zones = size.by_zone()
        if zones:
            outputs[f"{name}.zones"] = ",".join(f"{zone}={count}" for zone, count in zones.items())
    return outputs


def _names(job: InfrastructureJob) -> list[str]:
    return [pool.name for pool in provider_of(job).node_pools]


def save_sizes_of(
    access: GcpAccess, job: InfrastructureJob, location: StateLocation, emit: Emit
) -> dict[str, str]:
    """Save the pools' sizes unless a pause already did; the sizes saved, and whether this
    call saved them (``saved_by_this_job``)."""
    saved = load_sizes(access, location)
    if saved is not None:
        emit("the cluster is already paused: the sizes saved by the first pause are kept")
        return {**_outputs(saved), SAVED_BY_THIS_JOB: "no"}
    sizes = pool_sizes(access, job.cluster.name, _names(job))
    if not sizes:
        emit(f"GKE has no node pool of {job.cluster.name} yet: no size to save")
        return {SAVED_BY_THIS_JOB: "no"}
    if not save_sizes(access, location, job.cluster.name, sizes):
        # Written by another run between our read and our write: that one stands.
        emit("the sizes saved by another pause of this cluster are kept")
        return {**_outputs(load_sizes(access, location) or {}), SAVED_BY_THIS_JOB: "no"}
    for name, size in sizes.items():
        emit(f"saved the size of the node pool {name}: {size.describe()}")
    return {**_outputs(sizes), SAVED_BY_THIS_JOB: "yes"}


def scale_to_zero(
    access: GcpAccess, job: InfrastructureJob, cancel: CancelToken, emit: Emit
) -> dict[str, str]:
    """``setSize`` 0 for every pool GKE has; their sizes after."""
    sizes = pool_sizes(access, job.cluster.name, _names(job))
    for name in sizes:
        cancel.raise_if_cancelled()  # each resize is an operation of its own: stop between
        set_size(access, job.cluster.name, name, 0, cancel)
        emit(f"scaled the node pool {name} to zero")
    return _outputs(pool_sizes(access, job.cluster.name, sizes))


def restore_sizes(
    access: GcpAccess,
    job: InfrastructureJob,
    location: StateLocation,
    cancel: CancelToken,
    emit: Emit,
) -> dict[str, str]:
    """Give each pool's zones their saved nodes, clamped into the job's range."""
    saved = load_sizes(access, location) or {}
    if not saved:
        emit("no saved sizes: the node pools keep the sizes the apply gave them")
    for pool in provider_of(job).node_pools:
        size = saved.get(pool.name)
        if size is None:
            continue

        def clamp(count: int, low: int = pool.min_nodes, high: int = pool.max_nodes) -> int:
            return min(max(count, low), high)

        zones = {zone: clamp(count) for zone, count in size.by_zone().items()}
        cancel.raise_if_cancelled()
        if len(set(zones.values())) > 1:
            set_zone_sizes(access, job.cluster.name, pool.name, zones, cancel)
            listed = ", ".join(f"{zone} {count}" for zone, count in zones.items())
            emit(f"gave the node pool {pool.name} back its nodes per zone: {listed}")
            continue
        nodes = clamp(size.nodes)
        set_size(access, job.cluster.name, pool.name, nodes, cancel)
        emit(f"gave the node pool {pool.name} back {nodes} nodes per zone")
    return _outputs(pool_sizes(access, job.cluster.name, _names(job)))


def forget_sizes_of(access: GcpAccess, location: StateLocation, emit: Emit) -> dict[str, str]:
    """Delete the saved sizes; the record deleted as ``saved_record`` (for a rollback)."""
    record = load_record(access, location)
    if forget_sizes(access, location):
        emit("deleted the saved node pool sizes")
    return {SAVED_RECORD: record} if record is not None else {}


def undo_pause(
    access: GcpAccess,
    job: InfrastructureJob,
    location: StateLocation,
    saved_by_this_job: bool,
    cancel: CancelToken,
    emit: Emit,
) -> bool:
    """Give the pools back the sizes this pause saved; False (nothing done) when the pause
    saved none (the cluster was paused before it, or had no node pool)."""
    if not saved_by_this_job or load_sizes(access, location) is None:
        emit("the cluster was paused before this job: left paused")
        return False
    restore_sizes(access, job, location, cancel, emit)
    return True


def forget_saved_by_pause(access: GcpAccess, location: StateLocation, emit: Emit) -> None:
    """Delete the record a rolled-back pause wrote."""
    if forget_sizes(access, location):
        emit("deleted the node pool sizes this pause had saved")


def undo_resume(
    access: GcpAccess,
    job: InfrastructureJob,
    location: StateLocation,
    cancel: CancelToken,
    emit: Emit,
) -> bool:
    """Resize the pools to zero when the cluster was paused before this resume (its record is
    there); False (nothing done) otherwise."""
    if load_sizes(access, location) is None:
        emit("the cluster was not paused before this job: its node pools are left as they are")
        return False
    scale_to_zero(access, job, cancel, emit)
    return True


def put_back_record(access: GcpAccess, location: StateLocation, record: str, emit: Emit) -> None:
    """Write back the saved sizes a rolled-back resume deleted (``record``: their JSON)."""
    if put_back(access, location, record):
        emit("put back the saved node pool sizes")
