"""Why a rollout is failing, in words a user can act on: from pod statuses and Warning Events.

Classes: image cannot be pulled, crash loop (with the last log lines), out of memory,
a container that exited with an error (a Job's pod, with the last log lines), unschedulable,
failing readiness probe, quota exceeded. Each becomes a :class:`RolloutFailure` with a hint;
``fatal`` ones end the wait at once, the others are only reported if the rollout times out
(or the Job fails).
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from qengine_kubernetes.render import Manifest

PULL_REASONS = frozenset({"ImagePullBackOff", "ErrImagePull", "InvalidImageName"})


@attrs.frozen(kw_only=True)
class RolloutFailure:
    """One reason a service does not become ready."""

    reason: str
    message: str
    hint: str
    pod: str = ""
    container: str = ""
    fatal: bool = True


def _statuses(pod: Manifest) -> list[Manifest]:
    status = pod.get("status", {})
    return [*status.get("initContainerStatuses", []), *status.get("containerStatuses", [])]


def pod_failures(pod: Manifest) -> list[RolloutFailure]:
    """What is wrong with ``pod`` (empty when nothing is known to be)."""
    name = pod["metadata"]["name"]
    found = [f for cs in _statuses(pod) if (f := _container_failure(name, cs)) is not None]
    for condition in pod.get("status", {}).get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            found.append(
                RolloutFailure(
                    reason="Unschedulable",
                    message=f"pod {name} cannot be scheduled: {condition.get('message', '')}",
                    hint="No node has room for the pod's requests (or matches its constraints): "
                    "lower cpu/memory requests or add capacity to the cluster.",
                    pod=name,
                )
            )
    return found


def _container_failure(pod: str, status: Manifest) -> RolloutFailure | None:
    container = status.get("name", "")
    waiting = status.get("state", {}).get("waiting") or {}
    reason = waiting.get("reason", "")
    last = (status.get("lastState") or {}).get("terminated") or {}
    if reason in PULL_REASONS:
        return RolloutFailure(
            reason="ImagePullBackOff",
            message=f"pod {pod}: image {status.get('image', '')!r} cannot be pulled ({reason}): "
            f"{waiting.get('message', '')}".rstrip(": "),
            hint="Check the image name and tag, and that the cluster may pull from the registry "
            "(image pull secret).",
            pod=pod,
            container=container,
        )
    if last.get("reason") == "OOMKilled":
        return RolloutFailure(
            reason="OOMKilled",
            message=f"pod {pod}: container {container} was killed for using too much memory",
            hint="Raise the service's memory limit, or find what makes it use so much.",
            pod=pod,
            container=container,
        )
    if reason == "CrashLoopBackOff":
        code = last.get("exitCode", "?")
        return RolloutFailure(
            reason="CrashLoopBackOff",
            message=f"pod {pod}: container {container} keeps exiting (exit code {code})",
            hint="The program exits at start: read its last log lines below, check its command, "
            "environment and what it connects to.",
            pod=pod,
            container=container,
        )
    return _exit_failure(pod, container, (status.get("state") or {}).get("terminated") or {})


def _exit_failure(pod: str, container: str, ended: Manifest) -> RolloutFailure | None:
    """A container that ended with an error and is not (yet) being restarted: the state a
    Job's pod is left in under ``restartPolicy: Never``, or a container between its exit and
    its restart. Not fatal: a Job with retries left replaces the pod, and a restarting
    container is judged once it backs off (CrashLoopBackOff)."""
    code = int(ended.get("exitCode", 0) or 0)
    if not code:
        return None
    if ended.get("reason") == "OOMKilled":
        return RolloutFailure(
            reason="OOMKilled",
            message=f"pod {pod}: container {container} was killed for using too much memory",
            hint="Raise the service's memory limit, or find what makes it use so much.",
            pod=pod,
            container=container,
            fatal=False,
        )
    return RolloutFailure(
        reason="ContainerFailed",
        message=f"pod {pod}: container {container} exited with code {code} "
        f"({ended.get('reason') or 'Error'})",
        hint="The program failed: read its last log lines below, check its command, "
        "environment and what it connects to.",
        pod=pod,
        container=container,
        fatal=False,
    )


def event_failures(events: Iterable[Manifest], prefix: str) -> list[RolloutFailure]:
    """Failures told by Warning Events about objects named ``prefix`` or ``prefix-...``."""
    found: list[RolloutFailure] = []
    for event in warning_events(events, prefix):
        message = str(event.get("message", ""))
        reason = str(event.get("reason", ""))
        if "exceeded quota" in message or "forbidden: exceeded" in message:
            found.append(
                RolloutFailure(
                    reason="QuotaExceeded",
                    message=f"{reason}: {message}",
                    hint="The namespace's ResourceQuota refuses the pods: raise the environment's "
                    "quota or lower the service's requests or replicas.",
                )
            )
        elif reason == "Unhealthy" and "Readiness probe failed" in message:
            found.append(
                RolloutFailure(
                    reason="ReadinessProbeFailed",
                    message=message,
                    hint="The readiness probe keeps failing: check its path and port, and that "
                    "the service answers within the probe's timeout.",
                    fatal=False,
                )
            )
    return found


def warning_events(events: Iterable[Manifest], prefix: str) -> list[Manifest]:
    """The Warning Events about ``prefix`` or objects named ``prefix-...``, oldest first."""
    chosen = [
        e
        for e in events
        if e.get("type") == "Warning"
        and (
            (name := str(e.get("involvedObject", {}).get("name", ""))) == prefix
            or name.startswith(prefix + "-")
        )
    ]
    return sorted(chosen, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))


def describe_event(event: Manifest) -> str:
    """One line: ``Warning BackOff pod/web-x: message (x3)``."""
    involved = event.get("involvedObject", {})
    count = event.get("count") or 1
    times = f" (x{count})" if count > 1 else ""
    return (
        f"Warning {event.get('reason', '')} {str(involved.get('kind', '')).lower()}/"
        f"{involved.get('name', '')}: {event.get('message', '')}{times}"
    )
