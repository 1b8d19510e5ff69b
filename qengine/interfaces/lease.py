"""Target leases: a lock that lives with the target itself, not with one engine's state.

The state store's lock (:meth:`~qengine.interfaces.StateStore.acquire_lock`) serialises the
jobs that share that store. Two engines with different stores (two hosts, two operators) never
see each other's locks; a lease kept on the target (a ``coordination.k8s.io`` Lease on the
cluster, a lease object beside the Terraform state) is seen by every engine that reaches the
target. An engine asks the job's :class:`~qengine.interfaces.EnvEngine` or
:class:`~qengine.interfaces.InfraEngine` for its :meth:`lease`, takes it after the store's
lock (which stays as the fast path) and before the first step (or at the end of the step it
names, :attr:`TargetLease.after_step`), renews it every
:attr:`TargetLease.renew_seconds` while the job runs, and releases it when the job ends. A
renewal that finds the lease taken by another holder stops the job at once (no rollback: the
target now belongs to the other job) with exit code 3 and says so.
"""

from __future__ import annotations

import abc

from qengine.interfaces.cancel import CancelToken

__all__ = ["TargetLease"]


class TargetLease(abc.ABC):
    """One lease on one target, taken by one job at a time.

    ``description`` names the lease for messages (say ``Lease qengine-system/env-shop on the
    cluster``). ``renew_seconds`` is how often the runner renews it: well within the lease's
    duration, so that a live holder never lets it lapse. ``after_step``: the id of a step of
    the plan at whose end the runner takes the lease (the steps that depend on it start once
    it is held), for a lease that lives in something a step makes (a state bucket); None (the
    default) takes it before the first step. A lease taken at a step's end that is held by
    another job fails that step with :class:`~qengine.TargetLockedError` (exit code 4).
    """

    description: str = "the target's lease"
    renew_seconds: float = 10.0
    after_step: str | None = None

    @abc.abstractmethod
    def acquire(self, owner: str, *, wait_seconds: float, cancel: CancelToken) -> None:
        """Take the lease for job ``owner``: at once when it is free, held by ``owner``
        already (a resumed run of the same job) or lapsed (its holder stopped renewing);
        else wait up to ``wait_seconds`` for it, polling on ``cancel``.

        Raises :class:`~qengine.TargetLockedError` naming the holder (job, host, process,
        last renewal) when the wait ends, :class:`~qengine.CancelledError` when cancelled.
        """

    @abc.abstractmethod
    def renew(self) -> None:
        """Extend the lease taken by :meth:`acquire`.

        Raises :class:`~qengine.TargetLockedError` when another holder has taken it (the
        lease lapsed and was taken over): the job no longer owns the target. A failure to
        reach the target is a :class:`~qengine.TransientError`; the runner tries again
        at the next renewal while the lease has not lapsed.
        """

    @abc.abstractmethod
    def release(self) -> None:
        """Give the lease up (when this job still holds it). Never raises for a lease that
        is already gone or held by another job."""
