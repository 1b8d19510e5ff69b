"""Fault injection: API faults for a fraction of requests, and pod faults by image or annotation.

API faults (:class:`ApiFault`): ``429`` (with ``Retry-After``), ``500``, ``drop`` (the
connection is closed without a response) and ``slow`` (the response is delayed), each for a
fraction of matching requests. Pod faults (:class:`PodFault`): ``ImagePullBackOff``,
``CrashLoopBackOff``, ``OOMKilled``, ``Unschedulable`` and ``ReadinessFailure``, for pods whose
image contains a string or that carry the annotation ``sim.qengine.dev/fault: <kind>``.
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
    """Make pods whose image contains ``image`` (or with the annotation) fail the ``kind`` way."""

    kind: str
    image: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind not in POD_FAULT_KINDS:
            raise InvalidInputError(
                f"unknown pod fault {self.kind!r}", hint=f"use one of {', '.join(POD_FAULT_KINDS)}"
            )


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
        """The fault kind that applies to a pod, by annotation first, then by image."""
        annotation = (pod.get("metadata", {}).get("annotations") or {}).get(FAULT_ANNOTATION)
        if annotation in POD_FAULT_KINDS:
            return str(annotation)
        images = [c.get("image", "") for c in pod.get("spec", {}).get("containers") or []]
        with self._lock:
            for fault in self._pod:
                if fault.image and any(fault.image in image for image in images):
                    return fault.kind
        return None

    def describe(self) -> dict[str, Any]:
        """The active faults as JSON (for ``GET /_sim/faults``)."""
        with self._lock:
            return {
                "api": [attrs.asdict(f) for f in self._api],
                "pod": [attrs.asdict(f) for f in self._pod],
            }


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
