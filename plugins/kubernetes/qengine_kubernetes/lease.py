"""The environment's lease on its cluster: a ``coordination.k8s.io/v1`` Lease.

Two engines that deploy one environment with different state stores (two hosts, two
operators) never see each other's store locks; both reach the cluster. So every environment
job also holds the Lease named after the environment's namespace, in the namespace
``qengine-system`` (``KubeSettings.lease_namespace``; created when missing), for as long as it
runs:

* ``spec.holderIdentity`` says who holds it (``job <id> (pid <pid> on <host>)``), the annotation
  ``qengine.dev/job-id`` the job alone, so that a resumed run of the same job (another process)
  takes it back at once;
* ``spec.renewTime`` + ``spec.leaseDurationSeconds`` (``KubeSettings.lease_seconds``, 30 by
  default) is when it lapses; the runner renews it every third of that;
* a lapsed lease (its holder was killed) is taken over, ``spec.leaseTransitions`` counting the
  takeovers; every write carries the ``resourceVersion`` it read, so of two engines racing for
  it exactly one wins;
* the job's end releases it (the Lease is deleted at the version this job last wrote).

Whether a lease lapsed is judged on this engine's clock against the holder's ``renewTime``:
engines whose clocks disagree by more than the lease's duration could take a live lease over
(run NTP; raise ``lease_seconds`` where clocks drift).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import time
from collections.abc import Callable

from qengine.plugin import (
    CancelledError,
    CancelToken,
    ConflictError,
    TargetLease,
    TargetLockedError,
)
from qengine_kubernetes.access import ClusterCell
from qengine_kubernetes.client import KubeApi, NotFoundError, cancelled_by
from qengine_kubernetes.render import Manifest

JOB_ANNOTATION = "qengine.dev/job-id"
POLL_SECONDS = 1.0


def micro_time(moment: float) -> str:
    """``moment`` (epoch seconds) as the API's MicroTime."""
    stamp = datetime.datetime.fromtimestamp(moment, tz=datetime.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """Epoch seconds of a MicroTime or Time ('' gives 0)."""
    if not text:
        return 0.0
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class KubeLease(TargetLease):
    """The Lease ``namespace/name`` on the cluster ``cell`` reaches."""

    def __init__(
        self,
        cell: ClusterCell,
        *,
        namespace: str,
        name: str,
        seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cell = cell
        self.namespace = namespace
        self.name = name
        self.seconds = seconds
        self.renew_seconds = seconds / 3
        self.description = f"Lease {namespace}/{name} on the cluster"
        self._clock = clock
        self._owner = ""
        self._identity = ""
        self._version = ""  # the resourceVersion of this holder's last write

    # -- TargetLease ---------------------------------------------------------------------------

    def acquire(self, owner: str, *, wait_seconds: float, cancel: CancelToken) -> None:
        """Take the Lease for job ``owner`` (see the module's documentation)."""
        self._owner = owner
        self._identity = f"job {owner} (pid {os.getpid()} on {socket.gethostname()})"
        deadline = time.monotonic() + max(wait_seconds, 0.0)
        with cancelled_by(cancel):
            api = self.cell.api()
            self._ensure_namespace(api)
            while True:
                holder = self._try(api)
                if holder is None:
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TargetLockedError(
                        f"{self.description} is held by {holder}",
                        hint="Wait for that job to end (or --wait-lock SECONDS); a holder "
                        "that was killed loses the lease once it lapses.",
                    )
                if cancel.wait(min(POLL_SECONDS, remaining)):
                    raise CancelledError(f"cancelled while waiting for {self.description}")

    def renew(self) -> None:
        """Extend the Lease; :class:`TargetLockedError` when another holder took it."""
        api = self.cell.api()
        live = api.get("Lease", self.namespace, self.name)
        if live is None or not self._mine(live):
            raise TargetLockedError(
                f"{self.description} was taken by "
                f"{_holder(live) if live is not None else 'nobody (it was deleted)'}"
            )
        spec = dict(live.get("spec") or {})
        spec["renewTime"] = micro_time(self._clock())
        spec["holderIdentity"] = self._identity
        try:
            written = api.replace({**live, "spec": spec})
        except ConflictError as exc:
            raise TargetLockedError(f"{self.description} changed under its holder") from exc
        self._version = str(written["metadata"].get("resourceVersion", ""))

    def release(self) -> None:
        """Delete the Lease at the version this holder last wrote (left alone otherwise)."""
        if not self._version:
            return
        api = self.cell.api()
        with contextlib.suppress(ConflictError, NotFoundError):  # taken over or gone
            api.delete("Lease", self.namespace, self.name, resource_version=self._version)
        self._version = ""

    # -- internals -------------------------------------------------------------------------------

    def _ensure_namespace(self, api: KubeApi) -> None:
        if api.get("Namespace", None, self.namespace) is not None:
            return
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "qengine"},
            },
        }
        with contextlib.suppress(ConflictError):  # another engine created it first
            api.create(namespace)

    def _mine(self, live: Manifest) -> bool:
        annotations = live["metadata"].get("annotations") or {}
        return bool(annotations.get(JOB_ANNOTATION) == self._owner)

    def _try(self, api: KubeApi) -> str | None:
        """Take the Lease if it is free, this job's or lapsed: None; else who holds it."""
        now = self._clock()
        live = api.get("Lease", self.namespace, self.name)
        if live is None:
            return self._create(api, now)
        spec = live.get("spec") or {}
        held_by_other = spec.get("holderIdentity") and not self._mine(live)
        if held_by_other and not self._lapsed(spec, now):
            return _holder(live)
        transitions = int(spec.get("leaseTransitions", 0)) + (1 if held_by_other else 0)
        meta = dict(live["metadata"])
        meta["annotations"] = {**(meta.get("annotations") or {}), JOB_ANNOTATION: self._owner}
        taken = {
            **live,
            "metadata": meta,
            "spec": {
                "holderIdentity": self._identity,
                "leaseDurationSeconds": int(self.seconds),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": transitions,
            },
        }
        try:
            written = api.replace(taken)
        except ConflictError:
            return self._try(api)  # another engine wrote it first: judge again what it wrote
        self._version = str(written["metadata"].get("resourceVersion", ""))
        return None

    def _create(self, api: KubeApi, now: float) -> str | None:
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "qengine"},
                "annotations": {JOB_ANNOTATION: self._owner},
            },
            "spec": {
                "holderIdentity": self._identity,
                "leaseDurationSeconds": int(self.seconds),
                "acquireTime": micro_time(now),
                "renewTime": micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            written = api.create(lease)
        except ConflictError:
            return self._try(api)  # created meanwhile (by another engine, or our lost answer)
        self._version = str(written["metadata"].get("resourceVersion", ""))
        return None

    @staticmethod
    def _lapsed(spec: Manifest, now: float) -> bool:
        renewed = parse_time(str(spec.get("renewTime") or spec.get("acquireTime") or ""))
        return renewed + float(spec.get("leaseDurationSeconds", 0)) < now


def _holder(live: Manifest) -> str:
    spec = live.get("spec") or {}
    who = spec.get("holderIdentity") or "nobody"
    renewed = spec.get("renewTime") or spec.get("acquireTime") or "never"
    return f"{who}, last renewed {renewed}, for {spec.get('leaseDurationSeconds', '?')}s"
