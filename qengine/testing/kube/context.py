"""What the API routes need from a running simulator, in one object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qengine.testing.kube.clock import SimClock
from qengine.testing.kube.documents import clone
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.http import Request, Response
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.resources import TypeRegistry
from qengine.testing.kube.status import ApiError, bad_request, conflict
from qengine.testing.kube.store import Store

JSON = dict[str, Any]
LOGS_ANNOTATION = "sim.qengine.dev/logs"


class SimContext:
    """The store, type table, clock and faults of one simulator, plus its address."""

    def __init__(
        self,
        *,
        store: Store,
        api: ObjectApi,
        faults: Faults,
        stopping: Callable[[], bool],
    ) -> None:
        self.store = store
        self.api = api
        self.types: TypeRegistry = store.types
        self.clock: SimClock = store.clock
        self.faults = faults
        self.stopping = stopping
        self.address = "127.0.0.1:0"
        self.server_version = "1.31"

    def pod_logs(self, namespace: str, name: str, req: Request) -> Response:
        """``GET .../pods/<name>/log``: what the simulated container printed."""
        with self.store.lock:
            pod = self.store.get(self.types.preferred("", "pods"), namespace, name)  # type: ignore[arg-type]
        containers = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
        container = req.query.get("container") or (containers[0] if len(containers) == 1 else "")
        if not container:
            raise bad_request(
                f"a container name must be specified for pod {name}, choose one of: "
                f"[{' '.join(containers)}]"
            )
        if container not in containers:
            raise bad_request(f"container {container} is not valid for pod {name}")
        _check_started(pod, container, name)
        text = (pod["metadata"].get("annotations") or {}).get(LOGS_ANNOTATION)
        if text is None:
            text = f"simulated container {container} of pod {name} started\n"
        tail = req.query.get("tailLines")
        lines = text.splitlines(keepends=True)
        if tail:
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        return Response(raw="".join(lines).encode(), content_type="text/plain")

    def finalize_namespace(self, name: str, body: JSON) -> JSON:
        """``PUT /api/v1/namespaces/<name>/finalize``: set ``spec.finalizers``."""
        rtype = self.types.preferred("", "namespaces")
        assert rtype is not None
        current = self.store.get(rtype, "", name)
        sent = body.get("metadata", {}).get("resourceVersion")
        if sent and sent != current["metadata"]["resourceVersion"]:
            raise conflict("namespaces", "", name, "the object has been modified")
        new = clone(current)
        new["spec"] = dict(
            new.get("spec", {}), finalizers=body.get("spec", {}).get("finalizers", [])
        )
        return self.api.commit_raw(rtype, new)


def _check_started(pod: JSON, container: str, name: str) -> None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") != container:
            continue
        waiting = status.get("state", {}).get("waiting")
        if waiting and not status.get("lastState", {}).get("terminated"):
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: '
                f"{waiting.get('reason', 'ContainerCreating')}",
            )
        return
    raise ApiError(
        400,
        "BadRequest",
        f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
    )
