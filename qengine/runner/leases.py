"""Holding a job's target leases while it runs: take, renew in the background, release.

See :mod:`qengine.interfaces.lease` for what a lease is. Renewal runs on a daemon thread; a
renewal that finds the lease taken by another holder cancels the job with ``force`` (no
rollback: the target is no longer this job's) and says why. A renewal that cannot reach the
target is a warning, tried again at the next tick.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

from qengine._errors import QengineError, TargetLockedError
from qengine._events import EventType
from qengine.interfaces.cancel import CancelToken
from qengine.interfaces.lease import TargetLease
from qengine.runner.events import EventBus

__all__ = ["held"]


@contextlib.contextmanager
def held(
    leases: Sequence[TargetLease],
    owner: str,
    *,
    wait_seconds: float,
    cancel: CancelToken,
    bus: EventBus,
) -> Iterator[None]:
    """Within this block, ``owner`` holds every lease of ``leases`` (taken in order, released
    in reverse). Raises what :meth:`TargetLease.acquire` raises, after releasing the leases
    already taken."""
    taken: list[TargetLease] = []
    stop = threading.Event()
    keeper: threading.Thread | None = None
    try:
        for lease in leases:
            lease.acquire(owner, wait_seconds=wait_seconds, cancel=cancel)
            taken.append(lease)
            bus.emit(EventType.LOG, f"holding {lease.description}")
        if taken:
            keeper = threading.Thread(
                target=_keep, args=(taken, stop, cancel, bus), name="qengine-lease", daemon=True
            )
            keeper.start()
        yield
    finally:
        stop.set()
        if keeper is not None:
            keeper.join()
        for lease in reversed(taken):
            try:
                lease.release()
            except (QengineError, OSError) as exc:
                bus.emit(EventType.WARNING, f"could not release {lease.description}: {exc}")


def _keep(
    leases: list[TargetLease], stop: threading.Event, cancel: CancelToken, bus: EventBus
) -> None:
    period = min(lease.renew_seconds for lease in leases)
    while not stop.wait(period):
        for lease in leases:
            try:
                lease.renew()
            except TargetLockedError as exc:
                bus.emit(
                    EventType.WARNING,
                    f"lost {lease.description}: {exc}; stopping at once, without rollback "
                    "(the target is another job's now)",
                )
                cancel.cancel(f"lost {lease.description}", force=True)
                return
            except (QengineError, OSError) as exc:
                bus.emit(EventType.WARNING, f"could not renew {lease.description}: {exc}")
