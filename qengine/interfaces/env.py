"""Environment engines plan the deployment of an environment's services onto a cluster."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from qengine.spec import EnvAction

if TYPE_CHECKING:
    from qengine.interfaces.lease import TargetLease
    from qengine.runner.plan import StepPreview
    from qengine.runner.steps import Step
    from qengine.spec import EnvironmentJob


class EnvEngine(abc.ABC):
    """Plans environment jobs on one kind of cluster target: each action is a list of steps.

    The factory registered with ``registry.add_target`` builds one engine per job, from the
    job's ``target`` section and its services. Building the engine and its steps must make no
    mutating request and open no secret (``qengine plan`` stops there); the steps do the work
    when the runner runs them, and their ``compensate`` undoes it when the job fails.

    Every method gets the job whose action it is (``job.services`` names the services the job
    is about; empty means all of them) and returns its steps, whose ids start with the plugin's
    name. A step of a service built from source depends on ``build/<service>``, whose output
    ``image`` is the image to run.
    """

    def plan(self, job: EnvironmentJob) -> list[Step]:
        """The steps of the job's action (dispatches to the method of that name)."""
        actions = {
            EnvAction.DEPLOY: self.deploy,
            EnvAction.PAUSE: self.pause,
            EnvAction.RESUME: self.resume,
            EnvAction.RESTART: self.restart,
            EnvAction.DELETE: self.delete,
        }
        return list(actions[job.action](job))

    def preview(self, job: EnvironmentJob, steps: Sequence[Step]) -> Mapping[str, StepPreview]:
        """What each of ``steps`` (this engine's, from :meth:`plan`) would change, asked of the
        target: by step id, a :class:`~qengine.runner.plan.StepPreview`. A step left out is
        shown as not known; so is every step when this returns nothing (the default).

        Called by ``qengine plan`` unless it is offline. It must make no mutating request
        (a server-side dry-run is not one) and open no secret; a target it cannot reach is a
        preview whose steps say so (``StepPreview.not_known``), not an exception."""
        return {}

    def lease(self, job: EnvironmentJob) -> TargetLease | None:
        """The lease this job takes on its target while it runs, or None (the default): the
        state store's lock alone then serialises jobs (see :mod:`qengine.interfaces.lease`).
        Called by the runner when the job starts, not when it is planned."""
        return None

    @abc.abstractmethod
    def deploy(self, job: EnvironmentJob) -> Sequence[Step]:
        """Steps that apply the services that differ from the cluster and wait for their
        rollouts; a failed rollout rolls back. Post: a no-op redeploy's steps mutate nothing."""

    @abc.abstractmethod
    def pause(self, job: EnvironmentJob) -> Sequence[Step]:
        """Steps that scale workloads to zero and suspend cron jobs, remembering the counts."""

    @abc.abstractmethod
    def resume(self, job: EnvironmentJob) -> Sequence[Step]:
        """Steps that restore what :meth:`pause` remembered and wait until ready."""

    @abc.abstractmethod
    def restart(self, job: EnvironmentJob) -> Sequence[Step]:
        """Steps that roll every selected workload's pods and wait until they are ready."""

    @abc.abstractmethod
    def delete(self, job: EnvironmentJob) -> Sequence[Step]:
        """Steps that delete the selected services (or the whole environment)."""
