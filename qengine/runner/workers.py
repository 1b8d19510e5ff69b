"""The runner's thread pool: a fixed number of daemon workers fed from a queue.

Why not :class:`concurrent.futures.ThreadPoolExecutor`: its threads are joined when the
interpreter exits, so one step that ignores its cancel token after a timeout would keep the
process (and the CLI) alive forever. These workers are daemon threads: the runner stops
waiting for a timed-out step, and the process can still exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["WorkerPool"]

R = TypeVar("R")


class WorkerPool(Generic[R]):
    """``size`` daemon threads running submitted calls; results arrive on :meth:`next_result`.

    A call must not raise (wrap it); its return value is delivered with the key it was
    submitted under.
    """

    def __init__(self, size: int, name: str) -> None:
        self._tasks: queue.SimpleQueue[tuple[str, Callable[[], R]] | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[str, R]] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{index}", daemon=True)
            for index in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, key: str, call: Callable[[], R]) -> None:
        """Queue ``call``; a free worker picks it up."""
        self._tasks.put((key, call))

    def next_result(self, timeout: float) -> tuple[str, R] | None:
        """The next finished call's key and value, or None after ``timeout`` seconds."""
        try:
            return self._results.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def drain(self) -> list[tuple[str, R]]:
        """Every result already finished, without waiting."""
        finished: list[tuple[str, R]] = []
        while True:
            try:
                finished.append(self._results.get_nowait())
            except queue.Empty:
                return finished

    def shutdown(self) -> None:
        """Ask every worker to stop after its current call; does not wait for them."""
        for _ in self._threads:
            self._tasks.put(None)

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            key, call = task
            self._results.put((key, call()))
