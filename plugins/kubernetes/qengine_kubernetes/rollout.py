"""Waiting for a rollout through the watch API, with progress, failure classes and a timeout.

A wait starts from the object as its apply answered (else reads it), then takes its newer
versions from the job's one watch of its kind and namespace (see
:mod:`qengine_kubernetes.watches`) in windows of a few seconds, reading it again at each
window; each version updates the progress (``ready x/y``) and ends the wait when the object is
settled. Between windows the service's
pods (and, when pods are missing, the namespace's Warning Events) are checked for failures
that will not pass on their own: a pull error, a crash loop, an OOM kill, an unschedulable
pod, an exceeded quota. Those end the wait at once with a :class:`RolloutError`. Only the pods
the live object controls (through its current ReplicaSet, for a Deployment) are judged: pods
of a deleted object of the same name linger until the cluster's garbage collector and kubelet
are done with them. The shared watch starts afresh after an ERROR event (``410 Gone`` once
the version it went on from is compacted); a wait reads its object at each window whatever
the watch does. A router's Ingress is
waited for the same way until it has an address, when its DNS records need one.

A rollback's wait (``force_stuck``) also does what the upstream *forced rollback* procedure
asks of an operator: a StatefulSet with the default ``OrderedReady`` policy never replaces a
pod of the bad revision that is not Ready (it waits for it forever), so each such pod (a
revision other than the set's ``updateRevision``, not Ready) is deleted, and the controller
recreates it from the restored template. A Deployment needs no help: its controller scales the
bad ReplicaSet's unavailable pods down itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from qengine.plugin import DeploymentError
from qengine.runner import StepContext
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.failures import (
    RolloutFailure,
    describe_event,
    event_failures,
    pod_failures,
    warning_events,
)
from qengine_kubernetes.render import Manifest
from qengine_kubernetes.render.labels import SERVICE_ID
from qengine_kubernetes.watches import shared_watch

WINDOW_SECONDS = 2
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
STS_REVISION = "controller-revision-hash"
MIN_TIMEOUT = 600.0


class RolloutError(DeploymentError):
    """A rollout failed or timed out; ``failures`` says why, ``events`` the Warning Events."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        failures: tuple[RolloutFailure, ...] = (),
        events: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, hint=hint)
        self.failures = failures
        self.events = events


def rollout_timeout(workload: Manifest, override: float | None = None) -> float:
    """Seconds a workload may take: max(600, the slowest probe's worst case), times the
    replicas started one after the other (a StatefulSet's ordered start); for a Job, its
    ``activeDeadlineSeconds`` plus a minute."""
    if override is not None:
        return override
    template = _template(workload)
    worst = 0.0
    for container in template.get("spec", {}).get("containers", []):
        for key in ("startupProbe", "readinessProbe"):
            probe = container.get(key)
            if probe:
                worst = max(worst, _probe_seconds(probe))
    if workload["kind"] == "Job":
        # A Job ends by its own deadline; wait a little longer so its failure is the one told.
        deadline = workload["spec"].get("activeDeadlineSeconds")
        return max(MIN_TIMEOUT, float(deadline) + 60.0) if deadline else MIN_TIMEOUT
    serial = 1
    ordered = workload["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
    if workload["kind"] == "StatefulSet" and ordered:
        serial = max(1, int(workload["spec"].get("replicas", 1)))
    return max(MIN_TIMEOUT, worst * serial)


def _probe_seconds(probe: Manifest) -> float:
    initial = float(probe.get("initialDelaySeconds", 0))
    period = float(probe.get("periodSeconds", 10))
    timeout = float(probe.get("timeoutSeconds", 1))
    failures = float(probe.get("failureThreshold", 3))
    return initial + (timeout + period) * failures


def _template(workload: Manifest) -> Manifest:
    spec = workload.get("spec", {})
    if workload["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template: Manifest = spec.get("template", {})
    return template


def readiness(live: Manifest) -> tuple[int, int, bool]:
    """(ready, desired, settled) of a Deployment or StatefulSet."""
    spec, status = live.get("spec", {}), live.get("status", {})
    want = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas", 0))
    observed = int(status.get("observedGeneration", 0)) >= int(
        live["metadata"].get("generation", 1)
    )
    updated = int(status.get("updatedReplicas", 0))
    total = int(status.get("replicas", 0))
    if live["kind"] == "Deployment":
        available = int(status.get("availableReplicas", 0))
        settled = observed and updated == want and total == want and available >= want
    else:
        same = status.get("currentRevision") == status.get("updateRevision")
        settled = observed and ready == want and total == want and (updated == want or same)
    return ready, want, settled


def progress_deadline_exceeded(live: Manifest) -> str:
    """What the Deployment controller says when it gave up on the current rollout (its
    ``Progressing`` condition False with ``ProgressDeadlineExceeded``, for the generation it
    has observed), or ''. Kubernetes then stops nothing: it is the engine that fails the
    rollout at once rather than waiting out its own, longer, timeout."""
    if live.get("kind") != "Deployment":
        return ""
    status = live.get("status", {})
    if int(status.get("observedGeneration", 0)) < int(live["metadata"].get("generation", 1)):
        return ""
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("status") == "False"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            seconds = live.get("spec", {}).get("progressDeadlineSeconds", 600)
            return f"exceeded its progress deadline ({seconds}s without progress)"
    return ""


def pod_is_ready(pod: Manifest) -> bool:
    """Whether a pod's ``Ready`` condition is true."""
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def load_balancer_of(ingress: Manifest) -> list[Manifest]:
    """The addresses (``{"ip": ...}`` or ``{"hostname": ...}``) an Ingress is reached at."""
    entries = ingress.get("status", {}).get("loadBalancer", {}).get("ingress") or []
    return [e for e in entries if isinstance(e, dict) and (e.get("ip") or e.get("hostname"))]


def controlled_by(obj: Manifest, uid: str) -> bool:
    """Whether ``obj``'s controller (its ownerReference with ``controller: true``) is ``uid``."""
    refs = obj["metadata"].get("ownerReferences") or ()
    return any(ref.get("controller") and ref.get("uid") == uid for ref in refs)


def job_state(live: Manifest) -> str:
    """``complete``, ``failed`` or ``running`` for a Job."""
    for condition in live.get("status", {}).get("conditions", []):
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return "complete" if condition["type"] == "Complete" else "failed"
    return "running"


class Waiter:
    """Waits for the objects of one service in one namespace."""

    def __init__(
        self,
        api: KubeApi,
        ctx: StepContext,
        namespace: str,
        service: str,
        *,
        fail_fast: bool = True,
        force_stuck: bool = False,
    ) -> None:
        self.api = api
        self.ctx = ctx
        self.namespace = namespace
        self.service = service
        # A rollback waits without failing fast: the failing pods it replaces are still there.
        self.fail_fast = fail_fast
        self.force_stuck = force_stuck
        self.forced: list[str] = []  # the pods a forced rollback deleted
        self._last = ""

    def workload(self, obj: Manifest, timeout: float, *, start: Manifest | None = None) -> Manifest:
        """Wait until the Deployment or StatefulSet ``obj`` has rolled out; its live object.

        ``start``: the object as the API just answered a write of it, judged first instead of
        reading it (then read as usual when a watch window ends)."""

        selector = f"{SERVICE_ID}={self.service}"

        def settled(live: Manifest) -> bool:
            ready, want, done = readiness(live)
            self._progress(f"{self.service}: ready {ready}/{want}", ready=ready, desired=want)
            stalled = progress_deadline_exceeded(live)
            if not done and stalled and self.fail_fast:
                current, owner = self._current_pods(live, selector) or (selector, "")
                self.fail(
                    f"{live['kind']} {live['metadata']['name']} {stalled}", current, owner=owner
                )
            return done

        return self._await(obj, settled, timeout, selector, start)

    def job(self, obj: Manifest, timeout: float, *, start: Manifest | None = None) -> Manifest:
        """Wait until the Job ``obj`` completes; its live object. A failed Job raises.
        ``start``: as for :meth:`workload`."""
        name = obj["metadata"]["name"]

        def settled(live: Manifest) -> bool:
            state = job_state(live)
            self._progress(f"{self.service}: job {name} {state}", state=state)
            if state == "failed":
                uid = live["metadata"].get("uid", "")
                self.fail(f"job {name} failed", f"job-name={name}", job=True, owner=uid)
            return state == "complete"

        return self._await(obj, settled, timeout, f"job-name={name}", start)

    def ingress(self, obj: Manifest, timeout: float) -> Manifest:
        """Wait until the Ingress ``obj`` has a load-balancer address (the cluster's ingress
        controller publishes it in ``status.loadBalancer.ingress``); its live object."""
        name = obj["metadata"]["name"]

        def settled(live: Manifest) -> bool:
            found = bool(load_balancer_of(live))
            self._progress(
                f"{self.service}: ingress {name} " + ("has" if found else "awaits") + " an address"
            )
            return found

        return self._await(obj, settled, timeout, f"{SERVICE_ID}={self.service}")

    def _progress(self, message: str, **data: str | int) -> None:
        if message != self._last:
            self._last = message
            self.ctx.emit_progress(message, service=self.service, **data)

    def _await(
        self,
        obj: Manifest,
        settled: Callable[[Manifest], bool],
        timeout: float,
        pods: str,
        start: Manifest | None = None,
    ) -> Manifest:
        kind, name = obj["kind"], obj["metadata"]["name"]
        deadline = time.monotonic() + timeout
        while True:
            self.ctx.cancel.raise_if_cancelled()
            live, start = start or self.api.get(kind, self.namespace, name), None
            if live is None:
                raise RolloutError(f"{kind} {name} disappeared while rolling out")
            if settled(live):
                return live
            if self.force_stuck and kind == "StatefulSet":
                self._force_rollback(live)
            judged = self._current_pods(live, pods) if self.fail_fast else None
            if judged is not None:
                self._check(*judged, name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                selector, owner = self._current_pods(live, pods) or (pods, "")
                message = f"{kind} {name} did not become ready within {timeout:.0f}s"
                self.fail(message, selector, owner=owner)
            window = max(1, min(WINDOW_SECONDS, math.ceil(remaining)))
            watch = shared_watch(self.api, kind, self.namespace)
            for event, current in watch.changes(live, window, self.ctx.cancel):
                if self.ctx.cancel.cancelled:
                    break
                if event == "DELETED":
                    raise RolloutError(f"{kind} {name} was deleted while rolling out")
                if event in ("ADDED", "MODIFIED") and settled(current):
                    return current

    def _force_rollback(self, live: Manifest) -> None:
        """Delete the pods of ``live`` (a StatefulSet) that are of another revision than its
        ``updateRevision`` and not Ready: the controller would wait for them forever."""
        status = live.get("status", {})
        if int(status.get("observedGeneration", 0)) < int(live["metadata"].get("generation", 1)):
            return  # the controller has not seen the restored template yet
        revision = status.get("updateRevision")
        if not revision:
            return
        owner = str(live["metadata"].get("uid", ""))
        for pod in self._pods(f"{SERVICE_ID}={self.service}", owner):
            labels = pod["metadata"].get("labels") or {}
            stale = labels.get(STS_REVISION, revision) != revision
            if not stale or pod_is_ready(pod):
                continue
            name = pod["metadata"]["name"]
            if self.api.delete("Pod", self.namespace, name):
                self.forced.append(name)
                self.ctx.emit_warning(
                    f"{self.service}: deleted pod {name} of revision {labels.get(STS_REVISION)}: "
                    "not Ready, it kept the StatefulSet from rolling back (forced rollback)"
                )

    def _current_pods(self, live: Manifest, selector: str) -> tuple[str, str] | None:
        """(selector, controller uid) of the pods of ``live``'s current revision: pods of
        older revisions (say, the crashing pods a fix replaces) and of a deleted object of the
        same name must not fail the rollout. None while there is nothing to judge yet (the
        controller has not seen the current generation, or made its ReplicaSet)."""
        status = live.get("status", {})
        uid = str(live["metadata"].get("uid", ""))
        if live["kind"] in ("Deployment", "StatefulSet") and int(
            status.get("observedGeneration", 0)
        ) < int(live["metadata"].get("generation", 1)):
            return None
        if live["kind"] == "StatefulSet":
            revision = live.get("status", {}).get("updateRevision")
            return (f"{selector},{STS_REVISION}={revision}" if revision else selector), uid
        if live["kind"] != "Deployment":
            return selector, uid if live["kind"] == "Job" else ""
        wanted = (live["metadata"].get("annotations") or {}).get(DEPLOYMENT_REVISION)
        for replica_set in self.api.list("ReplicaSet", self.namespace, selector):
            annotations = replica_set["metadata"].get("annotations") or {}
            template_hash = (replica_set["metadata"].get("labels") or {}).get(TEMPLATE_HASH)
            current = wanted and annotations.get(DEPLOYMENT_REVISION) == wanted
            if current and template_hash and controlled_by(replica_set, uid):
                hashed = f"{selector},{TEMPLATE_HASH}={template_hash}"
                return hashed, str(replica_set["metadata"]["uid"])
        return None

    def _pods(self, selector: str, owner: str) -> list[Manifest]:
        """The pods of ``selector`` that ``owner`` controls (all, without an owner) and that
        are not being deleted."""
        return [
            pod
            for pod in self.api.list("Pod", self.namespace, selector)
            if not pod["metadata"].get("deletionTimestamp")
            and (not owner or controlled_by(pod, owner))
        ]

    def _check(self, selector: str, owner: str, name: str) -> None:
        pods = self._pods(selector, owner)
        fatal = [f for pod in pods for f in pod_failures(pod) if f.fatal]
        if not pods:
            events = self.api.list("Event", self.namespace)
            fatal += [f for f in event_failures(events, name) if f.fatal]
        if fatal:
            self._raise(fatal, name)

    def fail(self, message: str, selector: str, *, job: bool = False, owner: str = "") -> None:
        """Raise a RolloutError for ``message`` with what the pods of ``selector`` (those
        ``owner`` controls, when given) and the events tell."""
        pods = self._pods(selector, owner)
        failures = [f for pod in pods for f in pod_failures(pod)]
        events = self.api.list("Event", self.namespace)
        failures += event_failures(events, self.service)
        self._raise(failures, self.service, message=message)

    def _raise(self, failures: list[RolloutFailure], name: str, *, message: str = "") -> None:
        for failure in failures:
            logged = ("CrashLoopBackOff", "OOMKilled", "ContainerFailed")
            if failure.reason in logged and failure.pod:
                log = self.api.pod_log(self.namespace, failure.pod, failure.container)
                for line in log.splitlines()[-20:]:
                    self.ctx.emit_log(f"{failure.pod}/{failure.container}: {line}")
        events = self.api.list("Event", self.namespace)
        lines = tuple(describe_event(e) for e in warning_events(events, self.service))
        head = failures[0] if failures else None
        text = message or (head.message if head else f"{name} failed")
        if head and message:
            text = f"{message}: {head.message}"
        raise RolloutError(
            f"{self.service}: {text}",
            hint=head.hint if head else "Read the Warning Events of the service's pods.",
            failures=tuple(failures),
            events=lines,
        )
