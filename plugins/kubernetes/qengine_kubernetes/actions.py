"""Which function a step runs, per job action: the bridge from the plan to the engine.

Every function here imports its module when the step runs, so building a plan (``qengine
plan``) imports no Kubernetes client and reaches no cluster. Every step's work runs within
:func:`~qengine_kubernetes.client.cancelled_by` its own cancel token, so the backoff of a
retried request ends the moment the job is cancelled.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from qengine.runner import StepContext
from qengine.spec import EnvAction, EnvironmentJob

if TYPE_CHECKING:
    from qengine.plugin import JobServices
    from qengine_kubernetes.jobctx import EnvJob
    from qengine_kubernetes.settings import KubeSettings

RunFn = Callable[[StepContext], Mapping[str, str]]
UndoFn = Callable[[StepContext], None]
R = TypeVar("R")


def _bound(fn: Callable[[StepContext], R]) -> Callable[[StepContext], R]:
    """``fn`` with its requests' backoffs sleeping on the step's cancel token."""

    @functools.wraps(fn)
    def run(ctx: StepContext) -> R:
        from qengine_kubernetes.client import cancelled_by

        with cancelled_by(ctx.cancel):
            return fn(ctx)

    return run


class Actions:
    """Makes the ``run`` of each step of one job; the cluster client is shared by them."""

    def __init__(self, job: EnvironmentJob, services: JobServices, settings: KubeSettings) -> None:
        self.job = job
        self.services = services
        self.settings = settings
        self._env: EnvJob | None = None
        self._lock = threading.Lock()

    def env(self) -> EnvJob:
        """The job's shared step context, made once (steps run on several threads)."""
        from qengine_kubernetes.jobctx import EnvJob

        with self._lock:
            if self._env is None:
                self._env = EnvJob.of(self.job, self.services, self.settings)
            return self._env

    def namespace(self) -> RunFn:
        """The namespace step: apply it (deploy) or delete it (delete)."""
        deleting = self.job.action is EnvAction.DELETE

        def run(ctx: StepContext) -> Mapping[str, str]:
            from qengine_kubernetes import environment, lifecycle

            if deleting:
                return lifecycle.delete_environment(self.env(), ctx)
            return environment.deploy_namespace(self.env(), ctx)

        return _bound(run)

    def undo_namespace(self) -> UndoFn:
        """The ``compensate`` of a deploy's namespace step (see
        ``qengine_kubernetes.environment.undo_namespace``)."""

        def compensate(ctx: StepContext) -> None:
            from qengine_kubernetes.environment import undo_namespace

            undo_namespace(self.env(), ctx)

        return _bound(compensate)

    def prune(self) -> RunFn:
        """The pruning step of a whole-environment deploy."""

        def run(ctx: StepContext) -> Mapping[str, str]:
            from qengine_kubernetes.environment import prune_environment

            return prune_environment(self.env(), ctx)

        return _bound(run)

    def for_service(self, name: str, *, hook: bool, helm: bool) -> RunFn:
        """The step of service ``name`` for this job's action."""
        action = self.job.action

        def run(ctx: StepContext) -> Mapping[str, str]:
            from qengine_kubernetes import deploy, helm_release, lifecycle

            env = self.env()
            if action is EnvAction.DEPLOY or hook:
                if helm:
                    return helm_release.deploy_release(env, name, ctx)
                return deploy.deploy_service(env, name, ctx)
            if helm:
                return helm_release.lifecycle_release(env, name, ctx, action)
            if action is EnvAction.PAUSE:
                return lifecycle.pause_service(env, name, ctx)
            if action is EnvAction.RESUME:
                return lifecycle.resume_service(env, name, ctx)
            if action is EnvAction.RESTART:
                return lifecycle.restart_service(env, name, ctx)
            return lifecycle.delete_service(env, name, ctx)

        return _bound(run)

    def undo_release(self, name: str) -> UndoFn:
        """The ``compensate`` of a Helm service's deploy step (see
        ``qengine_kubernetes.helm_release.undo_release``)."""

        def compensate(ctx: StepContext) -> None:
            from qengine_kubernetes.helm_release import undo_release

            undo_release(self.env(), name, ctx)

        return _bound(compensate)

    def undo_service(self, name: str) -> UndoFn:
        """The ``compensate`` of a deploy step of service ``name``: put the service back as
        it was before this job (see ``qengine_kubernetes.compensate``)."""

        def compensate(ctx: StepContext) -> None:
            from qengine_kubernetes.compensate import compensate_service

            compensate_service(self.env(), name, ctx)

        return _bound(compensate)
