"""Infrastructure engines plan a cluster's lifecycle on one cloud."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from qengine.spec import InfraAction

if TYPE_CHECKING:
    from qengine.interfaces.lease import TargetLease
    from qengine.runner.plan import StepPreview
    from qengine.runner.steps import Step
    from qengine.spec import InfrastructureJob


@attrs.frozen(kw_only=True)
class ClusterAccess:
    """How to reach a cluster's API: endpoint, CA, and a token provider held in memory.

    Nothing here is a long-lived credential written to disk: ``token`` is called whenever a
    fresh bearer token is needed (for EKS, a presigned STS call, as ``aws eks get-token`` does).
    """

    endpoint: str
    ca_pem: str
    token: Callable[[], str] = attrs.field(repr=False)
    extra: Mapping[str, str] = attrs.field(factory=dict)


class InfraEngine(abc.ABC):
    """Plans infrastructure jobs on one cloud: each lifecycle action is a list of steps.

    The factory registered with ``registry.add_cloud_provider`` builds one engine per job, from
    the job's ``cluster.provider`` section and its services. Building the engine and its steps
    must make no mutating request and open no secret (``qengine plan`` stops there); the steps
    do the work when the runner runs them (journalled, locked on ``cluster/<id>``, cancellable,
    rolled back on failure). Steps that leave a cluster running return its access as outputs:
    ``endpoint``, ``certificate_authority`` (base64 PEM) and whatever the cloud adds.
    """

    def plan(self, job: InfrastructureJob) -> list[Step]:
        """The steps of the job's action (dispatches to the method of that name)."""
        actions = {
            InfraAction.CREATE: self.create,
            InfraAction.UPGRADE: self.upgrade,
            InfraAction.PAUSE: self.pause,
            InfraAction.RESUME: self.resume,
            InfraAction.DELETE: self.delete,
        }
        return list(actions[job.action](job))

    def preview(self, job: InfrastructureJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What each of ``steps`` (this engine's, from :meth:`plan`) would change, asked of the
        target: by step id, a :class:`~qengine.runner.plan.StepPreview`. A step left out is
        shown as not known; so is every step when this returns nothing (the default).

        Called by ``qengine plan`` unless it is offline. It must make no mutating request
        (Terraform's own plan, which takes and releases its state lock, is not one) and open
        no secret beyond the cloud credentials that plan needs; a target it cannot reach is a
        preview whose steps say so (``StepPreview.not_known``), not an exception."""
        return {}

    def lease(self, job: InfrastructureJob) -> TargetLease | None:
        """The lease this job takes on its target while it runs, or None (the default): the
        state store's lock alone then serialises jobs (see :mod:`qengine.interfaces.lease`).
        Called by the runner when the job starts, not when it is planned."""
        return None

    @abc.abstractmethod
    def create(self, job: InfrastructureJob) -> Sequence[Step]:
        """Steps that create the cluster, or converge an existing one to the spec."""

    @abc.abstractmethod
    def upgrade(self, job: InfrastructureJob) -> Sequence[Step]:
        """Steps that upgrade the control plane, then node groups, by one minor version."""

    @abc.abstractmethod
    def pause(self, job: InfrastructureJob) -> Sequence[Step]:
        """Steps that scale workers to zero, keeping the control plane and all state."""

    @abc.abstractmethod
    def resume(self, job: InfrastructureJob) -> Sequence[Step]:
        """Steps that restore the worker counts saved by :meth:`pause`."""

    @abc.abstractmethod
    def delete(self, job: InfrastructureJob) -> Sequence[Step]:
        """Steps that destroy the cluster; the state bucket is kept."""
