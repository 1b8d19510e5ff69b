"""Pause and resume of a GKE cluster's node pools (the control plane stays).

- pause: save each pool's autoscaling range and nodes per zone (read from GKE and Compute)
  next to the state, once: a second pause keeps the first one's sizes; apply the blueprint
  with every pool's autoscaling minimum at zero (its maximum kept); then ``setSize`` 0 for
  every pool, waited for. The minimum goes to zero first: a resize under a minimum of one
  would be undone by the cluster autoscaler.
- resume: apply the blueprint (the job's ranges: the autoscaler brings each pool to its
  minimum), then ``setSize`` back to the saved nodes per zone, clamped into the job's range,
  and forget the saved sizes.

Each step returns the sizes it read or set as outputs, ``<pool>.min``, ``<pool>.max``,
``<pool>.nodes`` (nodes per zone).
"""

from __future__ import annotations

from collections.abc import Callable

from qengine.plugin import CancelToken
from qengine.spec import InfrastructureJob
from qengine_gcp.blueprint import provider_of
from qengine_gcp.credentials import GcpAccess
from qengine_gcp.node_pools import PoolSize, pool_sizes, set_size
from qengine_gcp.saved_sizes import forget_sizes, load_sizes, save_sizes
from qengine_gcp.state_backend import StateLocation

Emit = Callable[[str], None]


def _outputs(sizes: dict[str, PoolSize]) -> dict[str, str]:
    outputs: dict[str, str] = {}
    for name, size in sizes.items():
        outputs[f"{name}.min"] = str(size.min_nodes)
        outputs[f"{name}.max"] = str(size.max_nodes)
        outputs[f"{name}.nodes"] = str(size.nodes)
    return outputs


def _names(job: InfrastructureJob) -> list[str]:
    return [pool.name for pool in provider_of(job).node_pools]


def save_sizes_of(
    access: GcpAccess, job: InfrastructureJob, location: StateLocation, emit: Emit
) -> dict[str, str]:
    """Save the pools' sizes unless a pause already did; the sizes saved."""
    saved = load_sizes(access, location)
    if saved is not None:
        emit("the cluster is already paused: the sizes saved by the first pause are kept")
        return _outputs(saved)
    sizes = pool_sizes(access, job.cluster.name, _names(job))
    if not sizes:
        emit(f"GKE has no node pool of {job.cluster.name} yet: no size to save")
        return {}
    save_sizes(access, location, job.cluster.name, sizes)
    for name, size in sizes.items():
        emit(f"saved the size of the node pool {name}: {size.describe()}")
    return _outputs(sizes)


def scale_to_zero(
    access: GcpAccess, job: InfrastructureJob, cancel: CancelToken, emit: Emit
) -> dict[str, str]:
    """``setSize`` 0 for every pool GKE has; their sizes after."""
    sizes = pool_sizes(access, job.cluster.name, _names(job))
    for name in sizes:
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
    """Give each pool its saved nodes per zone, clamped into the job's range."""
    saved = load_sizes(access, location) or {}
    if not saved:
        emit("no saved sizes: the node pools keep the sizes the apply gave them")
    for pool in provider_of(job).node_pools:
        size = saved.get(pool.name)
        if size is None:
            continue
        nodes = min(max(size.nodes, pool.min_nodes), pool.max_nodes)
        set_size(access, job.cluster.name, pool.name, nodes, cancel)
        emit(f"gave the node pool {pool.name} back {nodes} nodes per zone")
    return _outputs(pool_sizes(access, job.cluster.name, _names(job)))


def forget_sizes_of(access: GcpAccess, location: StateLocation, emit: Emit) -> dict[str, str]:
    """Delete the saved sizes."""
    if forget_sizes(access, location):
        emit("deleted the saved node pool sizes")
    return {}
