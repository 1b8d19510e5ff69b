"""Runs the simulated controllers on one thread, after store changes and on a short tick."""

from __future__ import annotations

import collections
import threading
import traceback
from collections.abc import Callable

from qengine.testing.kube.controllers import (
    deployment,
    ingress,
    jobs,
    namespaces,
    replicaset,
    services,
    statefulset,
    storage,
)
from qengine.testing.kube.controllers.pods import PodLifecycle
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi

TICK = 0.05


class ControllerManager:
    """Reconciles every controller in turn, holding the store lock for each pass.

    A controller that raises is logged in :attr:`errors` and the others carry on, as a
    crashing controller in a real cluster would not take the API server down.
    """

    def __init__(self, api: ObjectApi, faults: Faults, *, readiness_delay: float) -> None:
        self.api = api
        self.ca_pem = ""
        self.pods = PodLifecycle(api, faults, readiness_delay)
        self.errors: collections.deque[str] = collections.deque(maxlen=100)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._controllers: list[Callable[[], None]] = [
            lambda: namespaces.reconcile(api, self.ca_pem),
            lambda: deployment.reconcile(api),
            lambda: replicaset.reconcile(api),
            lambda: statefulset.reconcile(api),
            lambda: ingress.reconcile_daemonsets(api),
            lambda: jobs.reconcile_cronjobs(api),
            lambda: jobs.reconcile_jobs(api),
            self.pods.reconcile,
            lambda: services.reconcile(api),
            lambda: storage.reconcile(api),
            lambda: ingress.reconcile_ingresses(api),
        ]

    def start(self) -> None:
        """Start the reconcile thread."""
        self._thread = threading.Thread(target=self._run, name="kube-sim-controllers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the reconcile thread and wait for it."""
        self._stop.set()
        with self.api.store.lock:
            self.api.store.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        store = self.api.store
        seen = -1
        while not self._stop.is_set():
            with store.lock:
                if store.resource_version == seen:
                    store.changed.wait(timeout=TICK)
                if self._stop.is_set():
                    return
                self.reconcile()
                seen = store.resource_version

    def reconcile(self) -> None:
        """One pass over every controller (caller holds the store lock)."""
        for controller in self._controllers:
            try:
                controller()
            except Exception:
                self.errors.append(traceback.format_exc())
