"""Fault injection: API faults for a fraction of requests, and pod faults by image or annotation.

API faults (:class:`ApiFault`): ``429`` (with ``Retry-After``), ``500``, ``drop`` (the
connection is closed without a response) and ``slow`` (the response is delayed), each for a
fraction of matching requests. Pod faults (:class:`PodFault`): ``ImagePullBackOff``,
``CrashLoopBackOff``, ``OOMKilled``, ``Unschedulable`` and ``ReadinessFailure``, for the
containers whose image contains a string, or for every (regular) container of a pod that carries
the annotation ``sim.qengine.dev/fault: <kind>``. A ``CrashLoopBackOff`` container exits at once
with ``exit_code`` (1 unless said otherwise: ``PodFault(exit_code=...)`` or the annotation
``sim.qengine.dev/exit-code``); what the pod then shows depends on its ``restartPolicy``, as on a
cluster (see :mod:`qengine.testing.kube.controllers.kubelet`).
"""

from __future__ import annotations

import random
import threading
from typing import Any

import attrs

from qengine._errors import InvalidInputError

API_FAULT_KINDS = ("429", "500", "drop", "slow")
POD_FAULT_KINDS = (
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "OOMKilled",
    "Unschedulable",
    "ReadinessFailure",
)
FAULT_ANNOTATION = "sim.qengine.dev/fault"
EXIT_CODE_ANNOTATION = "sim.qengine.dev/exit-code"
OOM_EXIT_CODE = 137  # 128 + SIGKILL, what a cluster reports for an OOM-killed container


@attrs.frozen(kw_only=True)
class ApiFault:
    """Fail ``fraction`` of requests whose method and path match, the ``kind`` way."""

    kind: str
    fraction: float = 1.0
    methods: tuple[str, ...] = ()  # empty: every method
    path_contains: str = ""
    retry_after: int = 1
    delay: float = 0.5
    count: int | None = None  # at most this many times, then the fault is spent

    def __attrs_post_init__(self) -> None:
        if self.kind not in API_FAULT_KINDS:
            raise InvalidInputError(
                f"unknown API fault {self.kind!r}", hint=f"use one of {', '.join(API_FAULT_KINDS)}"
            )

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (before the coin flip)."""
        if self.methods and method not in self.methods:
            return False
        return self.path_contains in path


@attrs.frozen(kw_only=True)
class PodFault:
    """Make containers whose image contains ``image`` (or pods with the annotation) fail the
    ``kind`` way; ``exit_code`` is what a ``CrashLoopBackOff`` container exits with (0 makes it
    a container that completes: a Job's pod succeeds, a Deployment's pod restarts)."""

    kind: str
    image: str = ""
    exit_code: int = 1

    def __attrs_post_init__(self) -> None:
        if self.kind not in POD_FAULT_KINDS:
            raise InvalidInputError(
                f"unknown pod fault {self.kind!r}", hint=f"use one of {', '.join(POD_FAULT_KINDS)}"
            )
        if not 0 <= self.exit_code <= 255:
            raise InvalidInputError(
                f"exit code {self.exit_code} is out of range", hint="use 0 to 255"
            )


@attrs.frozen(kw_only=True)
class ContainerFault:
    """The fault one container has: its kind and, for exits, the exit code."""

    kind: str
    exit_code: int = 1


class Faults:
    """The active faults of one simulator. Thread-safe."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._api: list[ApiFault] = []
        self._spent: dict[int, int] = {}
        self._pod: list[PodFault] = []
        self._random = random.Random(seed)  # noqa: S311 - fault sampling, not security

    def add_api(self, fault: ApiFault) -> None:
        """Activate an API fault."""
        with self._lock:
            self._api.append(fault)

    def add_pod(self, fault: PodFault) -> None:
        """Activate a pod fault (applies to pods started from now on)."""
        with self._lock:
            self._pod.append(fault)

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._api.clear()
            self._pod.clear()
            self._spent.clear()

    def pick_api(self, method: str, path: str) -> ApiFault | None:
        """The API fault to apply to this request, if any (after sampling)."""
        with self._lock:
            for index, fault in enumerate(self._api):
                if not fault.matches(method, path):
                    continue
                if fault.count is not None and self._spent.get(index, 0) >= fault.count:
                    continue
                if self._random.random() < fault.fraction:
                    self._spent[index] = self._spent.get(index, 0) + 1
                    return fault
        return None

    def pod_fault(self, pod: dict[str, Any]) -> str | None:
        """The fault kind that applies to a pod, by annotation first, then by any image."""
        annotation = (pod.get("metadata", {}).get("annotations") or {}).get(FAULT_ANNOTATION)
        if annotation in POD_FAULT_KINDS:
            return str(annotation)
        spec = pod.get("spec", {})
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        images = [str(c.get("image", "")) for c in containers]
        with self._lock:
            for fault in self._pod:
                if fault.image and any(fault.image in image for image in images):
                    return fault.kind
        return None

    def container_fault(
        self, pod: dict[str, Any], container: dict[str, Any], *, init: bool = False
    ) -> ContainerFault | None:
        """The fault of one container: the pod's annotation (regular containers only), else
        the first fault whose image string the container's image contains."""
        annotations = pod.get("metadata", {}).get("annotations") or {}
        kind = annotations.get(FAULT_ANNOTATION)
        if kind in POD_FAULT_KINDS and not init:
            return ContainerFault(kind=str(kind), exit_code=_exit_code(str(kind), annotations))
        image = str(container.get("image", ""))
        with self._lock:
            for fault in self._pod:
                if fault.image and fault.image in image:
                    code = OOM_EXIT_CODE if fault.kind == "OOMKilled" else fault.exit_code
                    return ContainerFault(kind=fault.kind, exit_code=code)
        return None

    def describe(self) -> dict[str, Any]:
        """The active faults as JSON (for ``GET /_sim/faults``)."""
        with self._lock:
            return {
                "api": [attrs.asdict(f) for f in self._api],
                "pod": [attrs.asdict(f) for f in self._pod],
            }


def _exit_code(kind: str, annotations: dict[str, Any]) -> int:
    if kind == "OOMKilled":
        return OOM_EXIT_CODE
    try:
        return int(annotations.get(EXIT_CODE_ANNOTATION, 1)) & 0xFF
    except (TypeError, ValueError):
        return 1


def pod_fault_from_json(data: dict[str, Any]) -> PodFault:
    """A :class:`PodFault` from its JSON form (``POST /_sim/faults`` with ``"pod": {...}``)."""
    return PodFault(
        kind=str(data["kind"]),
        image=str(data.get("image", "")),
        exit_code=int(data.get("exit_code", 1)),
    )


def api_fault_from_json(data: dict[str, Any]) -> ApiFault:
    """An :class:`ApiFault` from its JSON form (``POST /_sim/faults`` with ``"api": {...}``)."""
    return ApiFault(
        kind=str(data["kind"]),
        fraction=float(data.get("fraction", 1.0)),
        methods=tuple(data.get("methods") or ()),
        path_contains=str(data.get("path_contains", "")),
        retry_after=int(data.get("retry_after", 1)),
        delay=float(data.get("delay", 0.5)),
        count=None if data.get("count") is None else int(data["count"]),
    )
