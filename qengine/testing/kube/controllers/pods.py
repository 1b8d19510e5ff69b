"""The scheduler and the kubelet, simulated: pods get a node, start, and become Ready.

A pod is scheduled onto the one simulated node, its containers start at once, and it turns
Ready ``readiness_delay`` seconds later (pods of Jobs, whose restartPolicy is not Always,
succeed then instead). A pod fault (see :mod:`qengine.testing.kube.faults`) replaces that with
the statuses and Events a real cluster shows for it.
"""

from __future__ import annotations

from typing import Any

from qengine.testing.kube import recorder
from qengine.testing.kube.controllers.common import rtype, set_condition
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import remove_now
from qengine.testing.kube.documents import clone
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.seed import NODE_NAME

JSON = dict[str, Any]
CRASH_INTERVAL = 1.0
KUBELET = "kubelet"


class PodLifecycle:
    """Drives every pod through scheduling, start, readiness (or its fault)."""

    def __init__(self, api: ObjectApi, faults: Faults, readiness_delay: float) -> None:
        self.api = api
        self.faults = faults
        self.readiness_delay = readiness_delay
        self._started: dict[str, float] = {}
        self._crashed: dict[str, float] = {}
        self._terminating: dict[str, float] = {}
        self._next_ip = 1

    def reconcile(self, work: Work) -> None:
        """One pass over the pods still on their way (caller holds the store lock)."""
        pods = rtype(self.api, "", "pods")
        for pod in work.objects(pods.key, _unsettled):
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod)
            elif pod.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
                self._step(pod)
        for uid in work.deleted_uids:
            self._started.pop(uid, None)
            self._crashed.pop(uid, None)

    def _terminate(self, pod: JSON) -> None:
        """Remove a Terminating pod once the termination delay has passed."""
        if pod["metadata"].get("finalizers"):
            return
        uid = pod["metadata"]["uid"]
        now = self.api.store.clock.time()
        since = self._terminating.setdefault(uid, now)
        if now - since >= self.api.pod_termination_delay:
            self._terminating.pop(uid, None)
            remove_now(self.api, rtype(self.api, "", "pods"), pod)

    def _step(self, pod: JSON) -> None:
        fault = self.faults.pod_fault(pod)
        if not pod.get("spec", {}).get("nodeName"):
            self._schedule(pod, fault)
            return
        uid = pod["metadata"]["uid"]
        now = self.api.store.clock.time()
        if uid not in self._started:
            self._started[uid] = now
            self._start(pod, fault)
            return
        if fault in ("CrashLoopBackOff", "OOMKilled"):
            self._crash_again(pod, fault, now)
        elif fault is None and now - self._started[uid] >= self.readiness_delay:
            self._become_ready(pod)

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

    # -- start ----------------------------------------------------------------------------

    def _start(self, pod: JSON, fault: str | None) -> None:
        new = clone(pod)
        stamp = self.api.store.clock.stamp()
        status = new.setdefault("status", {})
        status["hostIP"] = "10.0.0.10"
        status["hostIPs"] = [{"ip": "10.0.0.10"}]
        status["podIP"] = f"10.244.{self._next_ip // 250}.{self._next_ip % 250 + 2}"
        status["podIPs"] = [{"ip": status["podIP"]}]
        self._next_ip += 1
        status["startTime"] = stamp
        containers = new["spec"].get("containers") or []
        for ctype in ("PodReadyToStartContainers", "Initialized"):
            set_condition(status, ctype, "True", "", "", stamp)
        self._set_ready(status, containers, False, stamp)
        status["containerStatuses"] = [self._container_status(c, fault, stamp) for c in containers]
        status["phase"] = "Pending" if fault == "ImagePullBackOff" else "Running"
        if (
            fault in ("CrashLoopBackOff", "OOMKilled")
            and new["spec"].get("restartPolicy") != "Always"
        ):
            status["phase"] = "Failed"
        _drop_update_time(status)
        self.api.commit_raw(rtype(self.api, "", "pods"), new)
        for container in containers:
            self._start_events(new, container, fault)

    def _container_status(self, container: JSON, fault: str | None, stamp: str) -> JSON:
        image = container.get("image", "")
        status: JSON = {
            "name": container["name"],
            "image": image,
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": fault not in ("ImagePullBackOff", "CrashLoopBackOff", "OOMKilled"),
            "state": {"running": {"startedAt": stamp}},
            "lastState": {},
        }
        if fault == "ImagePullBackOff":
            status["state"] = {
                "waiting": {
                    "reason": "ImagePullBackOff",
                    "message": f'Back-off pulling image "{image}"',
                }
            }
        elif fault in ("CrashLoopBackOff", "OOMKilled"):
            status["imageID"] = f"{image}@sha256:{'0' * 64}"
            status["containerID"] = f"containerd://{'1' * 64}"
            status["restartCount"] = 1
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": "back-off 10s restarting failed container",
                }
            }
            status["lastState"] = {"terminated": _terminated(fault, stamp)}
        else:
            status["imageID"] = f"{image}@sha256:{'0' * 64}"
            status["containerID"] = f"containerd://{'1' * 64}"
        return status

    def _start_events(self, pod: JSON, container: JSON, fault: str | None) -> None:
        image = container.get("image", "")

        def emit(kind: str, reason: str, message: str) -> None:
            recorder.record(self.api, pod, kind, reason, message, KUBELET)

        emit("Normal", "Pulling", f'Pulling image "{image}"')
        if fault == "ImagePullBackOff":
            emit(
                "Warning",
                "Failed",
                f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                f'failed to pull and unpack image "{image}": not found',
            )
            emit("Warning", "Failed", "Error: ErrImagePull")
            emit("Normal", "BackOff", f'Back-off pulling image "{image}"')
            emit("Warning", "Failed", "Error: ImagePullBackOff")
            return
        emit("Normal", "Pulled", f'Successfully pulled image "{image}"')
        emit("Normal", "Created", f"Created container {container['name']}")
        emit("Normal", "Started", f"Started container {container['name']}")
        if fault in ("CrashLoopBackOff", "OOMKilled"):
            emit(
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {container['name']} in pod {_pod_ref(pod)}",
            )
        if fault == "ReadinessFailure":
            emit(
                "Warning",
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
            )

    # -- running --------------------------------------------------------------------------

    def _crash_again(self, pod: JSON, fault: str, now: float) -> None:
        uid = pod["metadata"]["uid"]
        if pod["spec"].get("restartPolicy") != "Always":
            return
        if now - self._crashed.get(uid, self._started[uid]) < CRASH_INTERVAL:
            return
        self._crashed[uid] = now
        new = clone(pod)
        stamp = self.api.store.clock.stamp()
        for status in new["status"].get("containerStatuses") or []:
            status["restartCount"] = int(status.get("restartCount", 0)) + 1
            status["lastState"] = {"terminated": _terminated(fault, stamp)}
            delay = min(300, 10 * 2 ** (status["restartCount"] - 1))
            status["state"] = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay}s restarting failed container="
                    f"{status['name']} pod={_pod_ref(pod)}",
                }
            }
            recorder.record(
                self.api,
                pod,
                "Warning",
                "BackOff",
                f"Back-off restarting failed container {status['name']} in pod {_pod_ref(pod)}",
                KUBELET,
            )
        self.api.commit_raw(rtype(self.api, "", "pods"), new)

    def _become_ready(self, pod: JSON) -> None:
        status = pod.get("status", {})
        if status.get("phase") == "Running" and all(
            c.get("ready") for c in status.get("containerStatuses") or []
        ):
            return
        new = clone(pod)
        stamp = self.api.store.clock.stamp()
        status = new["status"]
        if new["spec"].get("restartPolicy", "Always") != "Always":
            self._complete(new, stamp)
        else:
            for cstatus in status.get("containerStatuses") or []:
                cstatus["ready"] = True
                cstatus["started"] = True
            self._set_ready(status, new["spec"].get("containers") or [], True, stamp)
        _drop_update_time(status)
        self.api.commit_raw(rtype(self.api, "", "pods"), new)

    def _complete(self, pod: JSON, stamp: str) -> None:
        status = pod["status"]
        status["phase"] = "Succeeded"
        for cstatus in status.get("containerStatuses") or []:
            started = cstatus.get("state", {}).get("running", {}).get("startedAt", stamp)
            cstatus["ready"] = False
            cstatus["started"] = False
            cstatus["state"] = {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": started,
                    "finishedAt": stamp,
                    "containerID": cstatus.get("containerID", ""),
                }
            }
        self._set_ready(status, [], False, stamp, reason="PodCompleted")

    def _set_ready(
        self, status: JSON, containers: list[JSON], ready: bool, stamp: str, reason: str = ""
    ) -> None:
        names = " ".join(c["name"] for c in containers)
        value = "True" if ready else "False"
        why = "" if ready else (reason or "ContainersNotReady")
        message = "" if ready or reason else f"containers with unready status: [{names}]"
        set_condition(status, "Ready", value, why, message, stamp)
        set_condition(status, "ContainersReady", value, why, message, stamp)


def _unsettled(pod: JSON) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return True
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    return not ready


def _pod_ref(pod: JSON) -> str:
    meta = pod["metadata"]
    return f"{meta['name']}_{meta['namespace']}({meta['uid']})"


def _terminated(fault: str, stamp: str) -> JSON:
    oom = fault == "OOMKilled"
    return {
        "exitCode": 137 if oom else 1,
        "reason": "OOMKilled" if oom else "Error",
        "startedAt": stamp,
        "finishedAt": stamp,
        "containerID": f"containerd://{'1' * 64}",
    }


def _drop_update_time(status: JSON) -> None:
    """Pod conditions carry no lastUpdateTime (unlike workload conditions)."""
    for cond in status.get("conditions") or []:
        cond.pop("lastUpdateTime", None)
        if cond.get("reason") == "":
            cond.pop("reason")
        if cond.get("message") == "":
            cond.pop("message")
        cond.setdefault("lastProbeTime", None)
