"""What a container shows at a time of the simulated clock, as the kubelet reports it.

Modelled on the kubelet of Kubernetes 1.31 (``pkg/kubelet``; documented in "Pod Lifecycle",
``kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle``):

* A container that exits is restarted according to the pod's ``restartPolicy``: ``Always``
  restarts it whatever its exit code (so a container that completes with 0 restarts too),
  ``OnFailure`` only after a non-zero exit, ``Never`` not at all. Init containers restart as
  ``OnFailure`` unless the pod's policy is ``Never``.
* The first restart comes at the kubelet's next sync (``RELIST``: the PLEG relists every
  second); each later one after a back-off of 10 s doubling up to 300 s (``backOffPeriod``,
  ``MaxContainerBackOff``), during which the container is ``waiting`` with reason
  ``CrashLoopBackOff`` ("back-off 20s restarting failed container=..."), its previous run in
  ``lastState.terminated`` and ``restartCount`` counting the restarts. Between an exit and
  the next sync the container shows ``terminated`` (reason ``Error``, ``Completed`` or
  ``OOMKilled``, and the exit code).
* An image that cannot be pulled leaves the container ``waiting`` with ``ErrImagePull``
  until the next sync, then ``ImagePullBackOff`` until the pull back-off (the same 10 s
  doubling to 300 s) lets the kubelet try again.

The functions here are pure: the pod lifecycle (:mod:`.pods`) turns views into statuses and
Events.
"""

from __future__ import annotations

import math

import attrs

BACKOFF = 10.0  # the kubelet's backOffPeriod: the first back-off of restarts and pulls
MAX_BACKOFF = 300.0  # MaxContainerBackOff
RELIST = 1.0  # PLEG relist period: an exit or a failed pull is acted on at the next sync
NEVER = math.inf


@attrs.frozen(kw_only=True)
class Behaviour:
    """What a container does once started: fail to pull, exit after a while, or run."""

    pull_fails: bool = False
    exits_after: float | None = None  # None: runs until it is stopped
    exit_code: int = 0
    reason: str = "Completed"  # the terminated reason: Completed, Error, OOMKilled
    becomes_ready: bool = True

    @property
    def never_ready(self) -> bool:
        """Runs but never passes its readiness probe."""
        return not (self.pull_fails or self.becomes_ready or self.exits_after is not None)


@attrs.frozen(kw_only=True)
class Attempt:
    """One run of a container: ``number`` is the restart count when it started."""

    number: int
    started: float
    finished: float = NEVER  # NEVER while it runs


@attrs.frozen(kw_only=True)
class View:
    """A container at one time: its stage and what it has done, and when that next changes.

    Stages: ``pull-error`` (waiting ErrImagePull), ``pull-backoff`` (waiting
    ImagePullBackOff), ``running``, ``terminated``, ``backoff`` (waiting CrashLoopBackOff).
    """

    stage: str
    attempt: Attempt | None = None
    previous: Attempt | None = None
    ready: bool = False
    pulls: int = 0  # failed pulls so far (pull stages)
    backoff: float = 0.0  # the back-off being waited out (backoff stage)
    next_change: float = NEVER


def restarts(policy: str, exit_code: int) -> bool:
    """Whether a container that exited with ``exit_code`` is restarted under ``policy``."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def backoff(count: int) -> float:
    """The back-off after the ``count``-th failure (1-based): 10 s, 20 s, 40 s... 300 s."""
    return min(MAX_BACKOFF, BACKOFF * float(2 ** min(count - 1, 16)))


def view(behaviour: Behaviour, policy: str, since: float, now: float, ready_after: float) -> View:
    """The container started at ``since`` (by the kubelet) as it is at ``now``."""
    if behaviour.pull_fails:
        return _pulling(since, now)
    if behaviour.exits_after is None:
        ready_at = since + ready_after
        if behaviour.becomes_ready and now >= ready_at:
            return View(stage="running", attempt=Attempt(number=0, started=since), ready=True)
        wake = ready_at if behaviour.becomes_ready else NEVER
        return View(stage="running", attempt=Attempt(number=0, started=since), next_change=wake)
    return _exiting(behaviour, policy, since, now)


def _pulling(since: float, now: float) -> View:
    pulled, count = since, 1
    while True:
        delay = backoff(count)
        skipped = int((now - pulled) // delay) - 1 if delay == MAX_BACKOFF else 0
        if skipped > 0:  # a clock moved far ahead: skip whole cycles at the maximum at once
            pulled, count = pulled + skipped * delay, count + skipped
        if now < pulled + RELIST:
            return View(stage="pull-error", pulls=count, next_change=pulled + RELIST)
        if now < pulled + delay:
            return View(stage="pull-backoff", pulls=count, next_change=pulled + delay)
        pulled, count = pulled + delay, count + 1


def _exiting(behaviour: Behaviour, policy: str, since: float, now: float) -> View:
    run = behaviour.exits_after or 0.0
    number, start, previous = 0, since, None
    while True:
        end = start + run
        if now < end:
            attempt = Attempt(number=number, started=start)
            return View(stage="running", attempt=attempt, previous=previous, next_change=end)
        current = Attempt(number=number, started=start, finished=end)
        if not restarts(policy, behaviour.exit_code):
            return View(stage="terminated", attempt=current, previous=previous)
        delay = RELIST if number == 0 else backoff(number)
        cycle = run + delay
        skipped = int((now - start) // cycle) - 1 if delay == MAX_BACKOFF else 0
        if skipped > 0:  # a clock moved far ahead: skip whole cycles at the maximum at once
            number, start = number + skipped, start + skipped * cycle
            previous = Attempt(number=number - 1, started=start - cycle, finished=start - delay)
            continue
        if now < end + delay:
            if number == 0 or now < end + RELIST:
                wake = min(end + RELIST, end + delay)
                return View(
                    stage="terminated", attempt=current, previous=previous, next_change=wake
                )
            return View(
                stage="backoff",
                attempt=current,
                previous=previous,
                backoff=delay,
                next_change=end + delay,
            )
        previous, number, start = current, number + 1, end + delay
