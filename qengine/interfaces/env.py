"""Environment engines deploy services onto a cluster."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from qengine.interfaces.cancel import CancelToken
    from qengine.spec import EnvironmentJob, TargetSpec


class EnvEngine(abc.ABC):
    """Deploys an environment's services onto one cluster, watching rollouts.

    Every method honours ``cancel``; a failed rollout rolls back the service it failed on.
    """

    kind: ClassVar[str]
    spec_type: ClassVar[type[TargetSpec]]

    @abc.abstractmethod
    def plan(self, job: EnvironmentJob, cancel: CancelToken) -> Mapping[str, str]:
        """Describe what would change per service, making no mutating request."""

    @abc.abstractmethod
    def deploy(self, job: EnvironmentJob, cancel: CancelToken) -> None:
        """Apply the services that differ from the cluster; a no-op redeploy mutates nothing."""

    @abc.abstractmethod
    def pause(self, job: EnvironmentJob, cancel: CancelToken) -> None:
        """Scale workloads to zero and suspend cron jobs, remembering replica counts."""

    @abc.abstractmethod
    def resume(self, job: EnvironmentJob, cancel: CancelToken) -> None:
        """Restore what :meth:`pause` remembered."""

    @abc.abstractmethod
    def restart(self, job: EnvironmentJob, cancel: CancelToken) -> None:
        """Roll every selected workload's pods and wait until they are ready."""

    @abc.abstractmethod
    def delete(self, job: EnvironmentJob, cancel: CancelToken) -> None:
        """Delete the selected services (or the whole environment), keeping data by default."""
