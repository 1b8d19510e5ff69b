"""Holding a job's target leases while it runs: take, renew in the background, release.

See :mod:`qengine.interfaces.lease` for what a lease is. A lease is taken before the first
step, or, when it names an ``after_step`` in the plan that has not yet succeeded, at the end of
that step's run (so the steps that depend on it start only once it is held: a cloud's lease
that lives in a state bucket is taken once the step that makes the bucket has run). Renewal
runs on a daemon thread; a renewal that finds the lease taken by another holder cancels the
job with ``force`` (no rollback: the target is no longer this job's) and says why. A renewal
that cannot reach the target is a warning, tried again at the next tick.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from types import TracebackType

import attrs

from qengine._errors import QengineError, TargetLockedError
from qengine._events import EventType
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.lease import TargetLease
from qengine.runner.events import EventBus
from qengine.runner.plan import Plan
from qengine.runner.steps import Step, StepContext

__all__ = ["LeaseKeeper"]


class LeaseKeeper:
    """Takes, renews and releases one job's leases (a context manager around the run)."""

    def __init__(
        self,
        leases: Sequence[TargetLease],
        owner: str,
        *,
        wait_seconds: float,
        cancel: CancelToken,
        bus: EventBus,
    ) -> None:
        self.leases = list(leases)
        self.owner = owner
        self.wait_seconds = wait_seconds
        self.cancel = cancel
        self.bus = bus
        self._taken: list[TargetLease] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None
        self._upfront: list[TargetLease] = []

    def wrap(self, plan: Plan, finished: set[str]) -> Plan:
        """``plan`` with each lease's ``after_step`` taking it at the end of its run; leases
        with no such step to wait for (none named, not in the plan, or ``finished`` already,
        as in a resumed job) are taken upfront, by ``__enter__``."""
        later: dict[str, list[TargetLease]] = {}
        ids = {step.id for step in plan.steps}
        for lease in self.leases:
            after = lease.after_step
            if after is not None and after in ids and after not in finished:
                later.setdefault(after, []).append(lease)
            else:
                self._upfront.append(lease)
        if not later:
            return plan
        return Plan(
            [
                self._taking(step, later[step.id]) if step.id in later else step
                for step in plan.steps
            ]
        )

    def _taking(self, step: Step, leases: list[TargetLease]) -> Step:
        run = step.run

        def run_then_take(ctx: StepContext) -> Mapping[str, str]:
            outputs = run(ctx)
            for lease in leases:
                self.take(lease)
            return outputs

        return attrs.evolve(step, run=run_then_take)

    def take(self, lease: TargetLease) -> None:
        """Acquire ``lease`` now and keep it renewed."""
        lease.acquire(self.owner, wait_seconds=self.wait_seconds, cancel=self.cancel)
        with self._lock:
            self._taken.append(lease)
            start = self._keeper is None
            if start:
                self._keeper = threading.Thread(
                    target=self._keep, name="qengine-lease", daemon=True
                )
        self.bus.emit(EventType.LOG, f"holding {lease.description}")
        if start and self._keeper is not None:
            self._keeper.start()

    def __enter__(self) -> LeaseKeeper:
        try:
            for lease in self._upfront:
                self.take(lease)
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._release()

    def _release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join()
        with self._lock:
            taken, self._taken = list(reversed(self._taken)), []
        for lease in taken:
            try:
                lease.release()
            except (QengineError, OSError) as exc:
                self.bus.emit(EventType.WARNING, f"could not release {lease.description}: {exc}")

    def _keep(self) -> None:
        while True:
            with self._lock:
                leases = list(self._taken)
            period = min(lease.renew_seconds for lease in leases)
            if self._stop.wait(period):
                return
            for lease in leases:
                if not self._renew(lease):
                    return

    def _renew(self, lease: TargetLease) -> bool:
        try:
            lease.renew()
        except TargetLockedError as exc:
            self.bus.emit(
                EventType.WARNING,
                f"lost {lease.description}: {exc}; stopping at once, without rollback "
                "(the target is another job's now)",
            )
            self.cancel.cancel(f"lost {lease.description}", force=True)
            return False
        except (QengineError, OSError) as exc:
            self.bus.emit(EventType.WARNING, f"could not renew {lease.description}: {exc}")
        return True
