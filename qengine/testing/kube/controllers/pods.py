"""The scheduler and the kubelet, simulated: pods get a node, start, and run their course.

A pod is scheduled onto the one simulated node, and its containers start at once: init
containers one after the other, then the regular ones. A regular container without a fault
runs and turns Ready ``readiness_delay`` seconds later, or, when the pod's ``restartPolicy``
is not ``Always`` (Jobs), exits 0 then. A pod fault (see :mod:`qengine.testing.kube.faults`)
changes what a container does, and the kubelet's rules (:mod:`.kubelet`) what it then shows:
restarts with back-off, ``CrashLoopBackOff``, ``ErrImagePull`` and ``ImagePullBackOff``, a
``Failed`` or ``Succeeded`` phase, all on the simulator's clock. The container statuses,
phase, conditions and Events are the ones a 1.31 kubelet writes.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from typing import Any

import attrs

from qengine.testing.kube import recorder
from qengine.testing.kube.context import LOGS_ANNOTATION
from qengine.testing.kube.controllers.common import rtype, set_condition
from qengine.testing.kube.controllers.kubelet import Attempt, Behaviour, View, view
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now
from qengine.testing.kube.documents import clone
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.seed import NODE_NAME

JSON = dict[str, Any]
KUBELET = "kubelet"
MESSAGE_ANNOTATION = "sim.qengine.dev/termination-message"
_CRASHES = ("CrashLoopBackOff", "OOMKilled")
_MAX_MESSAGE = 4096  # bytes of terminationMessagePath the kubelet reads
_MAX_LOG_MESSAGE = 2048  # FallbackToLogsOnError: at most this many bytes...
_MAX_LOG_LINES = 80  # ...of the last this many lines


class PodLifecycle:
    """Drives every pod through scheduling, start and its containers' course (or faults)."""

    def __init__(self, api: ObjectApi, faults: Faults, readiness_delay: float) -> None:
        self.api = api
        self.faults = faults
        self.readiness_delay = readiness_delay
        self._started: dict[str, float] = {}
        self._due: dict[str, float] = {}  # when a started pod's status changes next
        # Per pod uid: each container's last stage seen (for Events), and what each container
        # (by name and image) does.
        self._seen: dict[str, dict[str, tuple[int, str]]] = {}
        self._behaviours: dict[str, dict[tuple[str, str], Behaviour]] = {}
        self._written: dict[str, str] = {}  # uid -> resourceVersion of this kubelet's write
        self._terminating: dict[str, float] = {}
        self._next_ip = 1

    def reconcile(self, work: Work) -> None:
        """One pass over the pods with something to do (caller holds the store lock)."""
        pods = rtype(self.api, "", "pods")
        now = self.api.store.clock.time()

        def unsettled(pod: JSON) -> bool:
            if pod["metadata"].get("deletionTimestamp") or not pod["spec"].get("nodeName"):
                return True
            uid = pod["metadata"]["uid"]
            if uid not in self._started:
                return _phase(pod) not in ("Succeeded", "Failed")
            return self._due.get(uid, math.inf) <= now

        for pod in work.objects(pods.key, unsettled):
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod)
            elif _phase(pod) not in ("Succeeded", "Failed"):
                self._step(pod, now)
        for uid in work.deleted_uids:
            self._forget(uid)

    def _forget(self, uid: str) -> None:
        self._started.pop(uid, None)
        self._due.pop(uid, None)
        self._terminating.pop(uid, None)
        self._written.pop(uid, None)
        self._seen.pop(uid, None)
        self._behaviours.pop(uid, None)

    def _terminate(self, pod: JSON) -> None:
        """Remove a Terminating pod once the termination delay has passed."""
        if pod["metadata"].get("finalizers"):
            return
        uid = pod["metadata"]["uid"]
        now = self.api.store.clock.time()
        since = self._terminating.setdefault(uid, now)
        if now - since >= self.api.pod_termination_delay:
            self._forget(uid)
            remove_now(self.api, rtype(self.api, "", "pods"), pod)

    def _step(self, pod: JSON, now: float) -> None:
        if not pod.get("spec", {}).get("nodeName"):
            self._schedule(pod, self.faults.pod_fault(pod))
            return
        uid = pod["metadata"]["uid"]
        starting = uid not in self._started
        if starting:
            self._started[uid] = now
        elif self._due.get(uid, math.inf) > now and self._written.get(uid) == _version(pod):
            return  # nothing due, and the pod is as this kubelet last wrote it
        self._sync(pod, now, starting)

    # -- scheduling -----------------------------------------------------------------------

    def _unschedulable_reason(self, fault: str | None) -> str:
        """Why the pod cannot be scheduled (empty when it can): the fault, or a cordon."""
        if fault == "Unschedulable":
            return (
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
                "available: 1 No preemption victims found for incoming pod."
            )
        node = self.api.store.find(("", "nodes"), "", NODE_NAME)
        if node is not None and node.get("spec", {}).get("unschedulable"):
            return (
                "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes "
                "are available: 1 Preemption is not helpful for scheduling."
            )
        return ""

    def _schedule(self, pod: JSON, fault: str | None) -> None:
        stamp = self.api.store.clock.stamp()
        new = clone(pod)
        status = new.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")
        name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        message = self._unschedulable_reason(fault)
        if message:
            if not status.get("conditions"):
                recorder.record(
                    self.api, pod, "Warning", "FailedScheduling", message, "default-scheduler"
                )
            set_condition(status, "PodScheduled", "False", "Unschedulable", message, stamp)
            _drop_update_time(status)
        else:
            new["spec"]["nodeName"] = NODE_NAME
            set_condition(status, "PodScheduled", "True", "", "", stamp)
            _drop_update_time(status)
            recorder.record(
                self.api,
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {name} to {NODE_NAME}",
                "default-scheduler",
            )
        self.api.commit_raw(rtype(self.api, "", "pods"), new)

    # -- the kubelet ----------------------------------------------------------------------

    def _start(self, status: JSON) -> None:
        """The pod's sandbox: IPs and start time (the containers follow)."""
        status["hostIP"] = "10.0.0.10"
        status["hostIPs"] = [{"ip": "10.0.0.10"}]
        status["podIP"] = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
        status["podIPs"] = [{"ip": status["podIP"]}]
        self._next_ip += 1
        status["startTime"] = self.api.store.clock.stamp()

    def _behaviour(self, pod: JSON, container: JSON, init: bool) -> Behaviour:
        """What the container does, decided when it is first seen: a fault added or
        removed later changes the pods started after it, not the history of this one."""
        plans = self._behaviours.setdefault(pod["metadata"]["uid"], {})
        key = (container["name"], str(container.get("image", "")))
        known = plans.get(key)
        if known is None:
            known = plans[key] = self._decide(pod, container, init)
        return known

    def _decide(self, pod: JSON, container: JSON, init: bool) -> Behaviour:
        fault = self.faults.container_fault(pod, container, init=init)
        if fault is not None and fault.kind == "ImagePullBackOff":
            return Behaviour(pull_fails=True)
        if fault is not None and fault.kind in _CRASHES:
            reason = "OOMKilled" if fault.kind == "OOMKilled" else "Error"
            return Behaviour(
                exits_after=0.0,
                exit_code=fault.exit_code,
                reason=reason if fault.exit_code else "Completed",
                becomes_ready=False,
            )
        if init:
            return Behaviour(exits_after=0.0, becomes_ready=False)
        if pod["spec"].get("restartPolicy", "Always") != "Always":
            # A Job's container runs for the readiness delay, then completes.
            return Behaviour(exits_after=self.readiness_delay, becomes_ready=False)
        return Behaviour(becomes_ready=fault is None or fault.kind != "ReadinessFailure")

    def _slots(self, pod: JSON, now: float) -> tuple[list[Slot], bool]:
        """Every container with what it does and shows at ``now``; whether the init
        containers are all done (each starts when the previous one has completed)."""
        spec = pod["spec"]
        policy = str(spec.get("restartPolicy", "Always"))
        init_policy = "Never" if policy == "Never" else "OnFailure"
        since = self._started[pod["metadata"]["uid"]]
        slots: list[Slot] = []
        initialized = True
        for container in spec.get("initContainers") or []:
            behaviour = self._behaviour(pod, container, True)
            if not initialized:
                slots.append(Slot(container, behaviour, View(stage="pod-initializing"), True))
                continue
            seen = view(behaviour, init_policy, since, now, 0.0)
            slots.append(Slot(container, behaviour, seen, True))
            if seen.stage == "terminated" and behaviour.exit_code == 0 and seen.attempt:
                since = seen.attempt.finished
            else:
                initialized = False
        for container in spec.get("containers") or []:
            behaviour = self._behaviour(pod, container, False)
            seen = (
                view(behaviour, policy, since, now, self.readiness_delay)
                if initialized
                else View(stage="pod-initializing")
            )
            slots.append(Slot(container, behaviour, seen, False))
        return slots, initialized

    def _sync(self, pod: JSON, now: float, starting: bool) -> None:
        """Write the status the containers have at ``now``, and the Events of what changed."""
        uid = pod["metadata"]["uid"]
        slots, initialized = self._slots(pod, now)
        new = clone(pod)
        status = new.setdefault("status", {})
        if starting:
            self._start(status)
        self._write_status(new, slots, initialized)
        due = min((s.view.next_change for s in slots), default=math.inf)
        if due == math.inf or _phase(new) in ("Succeeded", "Failed"):
            self._due.pop(uid, None)
        else:
            self._due[uid] = due
        stored = self.api.commit_raw(rtype(self.api, "", "pods"), new)
        self._written[uid] = _version(stored)
        for slot in slots:
            self._events(stored, slot)

    def _write_status(self, pod: JSON, slots: list[Slot], initialized: bool) -> None:
        status = pod["status"]
        stamp = self.api.store.clock.stamp()
        inits = [s for s in slots if s.init]
        regular = [s for s in slots if not s.init]
        if inits:
            status["initContainerStatuses"] = [self._container_status(pod, s) for s in inits]
        status["containerStatuses"] = [self._container_status(pod, s) for s in regular]
        phase = _pod_phase(str(pod["spec"].get("restartPolicy", "Always")), slots, initialized)
        status["phase"] = phase
        terminal = phase in ("Succeeded", "Failed")
        sandbox = "False" if terminal else "True"
        set_condition(status, "PodReadyToStartContainers", sandbox, "", "", stamp)
        if initialized:
            set_condition(status, "Initialized", "True", "", "", stamp)
        else:
            pending = " ".join(s.container["name"] for s in inits if not s.completed)
            message = f"containers with incomplete status: [{pending}]"
            set_condition(
                status, "Initialized", "False", "ContainersNotInitialized", message, stamp
            )
        unready = [s.container["name"] for s in regular if not s.view.ready]
        if terminal:
            reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
            _set_ready(status, "False", reason, "", stamp)
        elif unready:
            message = f"containers with unready status: [{' '.join(unready)}]"
            _set_ready(status, "False", "ContainersNotReady", message, stamp)
        else:
            _set_ready(status, "True", "", "", stamp)
        _drop_update_time(status)

    def _container_status(self, pod: JSON, slot: Slot) -> JSON:
        container, seen = slot.container, slot.view
        image = str(container.get("image", ""))
        status: JSON = {
            "name": container["name"],
            "image": image,
            "imageID": "",
            # A completed init container counts as ready, as the kubelet reports it.
            "ready": seen.ready or (slot.init and slot.completed),
            "restartCount": seen.attempt.number if seen.attempt else 0,
            "started": seen.stage == "running",
            "state": {},
            "lastState": {},
        }
        if seen.attempt is not None:
            status["imageID"] = f"{image}@sha256:{_digest(image)}"
            status["containerID"] = _container_id(pod, container, seen.attempt)
        # Waiting to restart, the run that just ended is the last state; otherwise the one
        # before the current run.
        last = seen.attempt if seen.stage == "backoff" else seen.previous
        if last is not None:
            status["lastState"] = {"terminated": _terminated(pod, slot, last)}
        if seen.stage == "running" and seen.attempt is not None:
            status["state"] = {"running": {"startedAt": _stamp(seen.attempt.started)}}
        elif seen.stage == "terminated" and seen.attempt is not None:
            status["state"] = {"terminated": _terminated(pod, slot, seen.attempt)}
        elif seen.stage == "backoff":
            message = (
                f"back-off {_go_duration(seen.backoff)} restarting failed container="
                f"{container['name']} pod={_pod_ref(pod)}"
            )
            status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        elif seen.stage == "pull-error":
            status["state"] = {"waiting": {"reason": "ErrImagePull", "message": _pull_error(image)}}
        elif seen.stage == "pull-backoff":
            message = f'Back-off pulling image "{image}"'
            status["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": message}}
        else:
            status["state"] = {"waiting": {"reason": "PodInitializing"}}
        return status

    def _events(self, pod: JSON, slot: Slot) -> None:
        """The kubelet's Events for a container that reached a new stage."""
        container, seen = slot.container, slot.view
        if seen.stage == "pod-initializing":
            return
        stages = self._seen.setdefault(pod["metadata"]["uid"], {})
        number = seen.attempt.number if seen.attempt else seen.pulls
        before = stages.get(container["name"])
        if before == (number, seen.stage):
            return
        stages[container["name"]] = (number, seen.stage)
        image = str(container.get("image", ""))
        name = container["name"]

        def emit(kind: str, reason: str, message: str) -> None:
            recorder.record(self.api, pod, kind, reason, message, KUBELET)

        if seen.stage in ("pull-error", "pull-backoff") and (before or (0,))[0] != number:
            emit("Normal", "Pulling", f'Pulling image "{image}"')
            emit("Warning", "Failed", f'Failed to pull image "{image}": {_pull_error(image)}')
            emit("Warning", "Failed", "Error: ErrImagePull")
        if seen.stage == "pull-error":
            return
        if seen.stage == "pull-backoff":
            emit("Normal", "BackOff", f'Back-off pulling image "{image}"')
            emit("Warning", "Failed", "Error: ImagePullBackOff")
            return
        if before is None or before[0] != number:
            if before is None or container.get("imagePullPolicy") == "Always":
                emit("Normal", "Pulling", f'Pulling image "{image}"')
                emit("Normal", "Pulled", f'Successfully pulled image "{image}"')
            else:
                emit("Normal", "Pulled", f'Container image "{image}" already present on machine')
            emit("Normal", "Created", f"Created container {name}")
            emit("Normal", "Started", f"Started container {name}")
            if seen.stage == "running" and slot.behaviour.never_ready:
                emit(
                    "Warning",
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503",
                )
        if seen.stage == "backoff":
            emit(
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {name} in pod {_pod_ref(pod)}",
            )


@attrs.frozen
class Slot:
    """One container of a pod: what it does and what it shows now."""

    container: JSON
    behaviour: Behaviour
    view: View
    init: bool

    @property
    def completed(self) -> bool:
        """Whether it has exited with 0 for good (an init container's success)."""
        return self.view.stage == "terminated" and self.behaviour.exit_code == 0


# -- status helpers -------------------------------------------------------------------------


def _version(pod: JSON) -> str:
    return str(pod["metadata"].get("resourceVersion", ""))


def _phase(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("phase", "Pending"))


def _pod_phase(policy: str, slots: list[Slot], initialized: bool) -> str:
    """The kubelet's ``getPhase``: from what the containers show and the restart policy."""
    if not initialized:
        failed = any(s.init and s.view.stage == "terminated" and not s.completed for s in slots)
        return "Failed" if failed and policy == "Never" else "Pending"
    waiting = running = stopped = succeeded = 0
    for slot in slots:
        if slot.init:
            continue
        if slot.view.stage == "running":
            running += 1
        elif slot.view.stage == "terminated":
            stopped += 1
            succeeded += slot.behaviour.exit_code == 0
        elif slot.view.previous is not None:
            stopped += 1  # waiting to restart after an exit: stopped, as getPhase counts it
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running or policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _terminated(pod: JSON, slot: Slot, attempt: Attempt) -> JSON:
    code = slot.behaviour.exit_code
    state: JSON = {
        "exitCode": code,
        "reason": slot.behaviour.reason,
        "startedAt": _stamp(attempt.started),
        "finishedAt": _stamp(attempt.finished),
        "containerID": _container_id(pod, slot.container, attempt),
    }
    message = _termination_message(pod, slot.container, code)
    if message:
        state["message"] = message
    return state


def _set_ready(status: JSON, value: str, reason: str, message: str, stamp: str) -> None:
    set_condition(status, "Ready", value, reason, message, stamp)
    set_condition(status, "ContainersReady", value, reason, message, stamp)


def _termination_message(pod: JSON, container: JSON, exit_code: int) -> str:
    """What the kubelet copies into ``terminated.message``: the file the program wrote (the
    annotation stands for it), else, with ``FallbackToLogsOnError`` after a failure, the
    log's tail."""
    annotations = pod["metadata"].get("annotations") or {}
    written = str(annotations.get(MESSAGE_ANNOTATION, ""))
    if written:
        return written.encode()[:_MAX_MESSAGE].decode("utf-8", "ignore")
    if exit_code == 0 or container.get("terminationMessagePolicy") != "FallbackToLogsOnError":
        return ""
    lines = str(annotations.get(LOGS_ANNOTATION, "")).splitlines(keepends=True)
    tail = "".join(lines[-_MAX_LOG_LINES:]).encode()
    return tail[-_MAX_LOG_MESSAGE:].decode("utf-8", "ignore")


def _pull_error(image: str) -> str:
    return (
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{image}": '
        f'failed to resolve reference "{image}": {image}: not found'
    )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _container_id(pod: JSON, container: JSON, attempt: Attempt) -> str:
    seed = f"{pod['metadata']['uid']}/{container['name']}/{attempt.number}"
    return f"containerd://{_digest(seed)}"


def _go_duration(seconds: float) -> str:
    """A whole number of seconds as Go prints a ``time.Duration``: ``40s``, ``1m20s``, ``5m0s``."""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pod_ref(pod: JSON) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def _drop_update_time(status: JSON) -> None:
    """Pod conditions carry no lastUpdateTime (unlike workload conditions)."""
    for cond in status.get("conditions") or []:
        cond.pop("lastUpdateTime", None)
        if cond.get("reason") == "":
            cond.pop("reason")
        if cond.get("message") == "":
            cond.pop("message")
        cond.setdefault("lastProbeTime", None)
