"""Runs the simulated controllers on one thread, after store changes and on a short tick."""

from __future__ import annotations

import collections
import threading
import time
import traceback
from collections.abc import Callable

from qengine.testing.kube.controllers import (
    certmanager,
    deployment,
    gateway,
    ingress,
    jobs,
    namespaces,
    replicaset,
    services,
    statefulset,
    storage,
)
from qengine.testing.kube.controllers.pods import PodLifecycle
from qengine.testing.kube.controllers.work import Work
from qengine.testing.kube.deletion import collect_garbage
from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi
from qengine.testing.kube.status import ApiError

TICK = 0.05
FULL_PASS_EVERY = 30.0
BATCH_DELAY = 0.005


class ControllerManager:
    """Reconciles every controller in turn, holding the store lock for each pass.

    A pass looks at what changed since the previous one (see :class:`Work`), with a full pass
    every few seconds as a safety net. A controller that raises is logged in :attr:`errors`
    and the others carry on, as a crashing controller would not take an API server down.
    """

    def __init__(self, api: ObjectApi, faults: Faults, *, readiness_delay: float) -> None:
        self.api = api
        self.ca_pem = ""
        self.pods = PodLifecycle(api, faults, readiness_delay)
        self.errors: collections.deque[str] = collections.deque(maxlen=100)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen = -1
        self._last_full = 0.0
        self._controllers: list[Callable[[Work], None]] = [
            lambda work: namespaces.reconcile(api, work, self.ca_pem),
            lambda work: collect_garbage(api),
            lambda work: deployment.reconcile(api, work),
            lambda work: replicaset.reconcile(api, work),
            lambda work: statefulset.reconcile(api, work),
            lambda work: ingress.reconcile_daemonsets(api, work),
            lambda work: jobs.reconcile_cronjobs(api, work),
            lambda work: jobs.reconcile_jobs(api, work),
            self.pods.reconcile,
            lambda work: services.reconcile(api, work),
            lambda work: storage.reconcile(api, work),
            lambda work: ingress.reconcile_ingresses(api, work),
            lambda work: certmanager.reconcile(api, work),
            lambda work: gateway.reconcile(api, work),
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
        while not self._stop.is_set():
            with store.lock:
                if store.resource_version == self._seen:
                    store.changed.wait(timeout=TICK)
                if self._stop.is_set():
                    return
                self.reconcile()
            # Let waiting requests in, and let changes batch up for the next pass.
            time.sleep(BATCH_DELAY)

    def _work(self) -> Work:
        now = time.monotonic()
        if self._seen < 0 or now - self._last_full > FULL_PASS_EVERY:
            self._last_full = now
            return Work(self.api.store, None)
        try:
            return Work(self.api.store, self.api.store.all_changes_since(self._seen))
        except ApiError:
            return Work(self.api.store, None)

    def reconcile(self) -> None:
        """One pass over every controller (caller holds the store lock)."""
        work = self._work()
        self._seen = self.api.store.resource_version
        for controller in self._controllers:
            try:
                controller(work)
            except Exception:
                self.errors.append(traceback.format_exc())
