"""Runs the simulated controllers on one thread, after every store change and on a tick."""

from __future__ import annotations

import threading

from qengine.testing.kube.faults import Faults
from qengine.testing.kube.objects import ObjectApi

TICK = 0.05


class ControllerManager:
    """Reconciles all controllers whenever the store changes (and every ``TICK`` seconds)."""

    def __init__(self, api: ObjectApi, faults: Faults, *, readiness_delay: float) -> None:
        self.api = api
        self.faults = faults
        self.readiness_delay = readiness_delay
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

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
                store.changed.wait(timeout=TICK)
                if self._stop.is_set():
                    return
                self.reconcile()

    def reconcile(self) -> None:
        """One pass over every controller (caller holds the store lock)."""
