"""Event sinks: a JSON-lines file, a host's callback, and a console view for people.

The console view (:class:`ConsoleSink`, in :mod:`qengine.runner.console`) draws a live block
of the running steps on a terminal and prints plain lines when the stream is not a terminal.
Either way it ends with the job's recap: what changed, how long each step took, what failed,
why, and what to do about it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from qengine._events import Event
from qengine.interfaces.events import EventSink
from qengine.runner.console import ConsoleSink

__all__ = ["CallbackSink", "ConsoleSink", "JsonLinesSink"]


class JsonLinesSink(EventSink):
    """Appends each event as one JSON line to ``path`` (created 0600), flushed per event."""

    def __init__(self, path: Path) -> None:
        path.touch(mode=0o600, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Write ``event`` as a line and flush it, so a reader tailing the file sees it now."""
        with self._lock:
            self._file.write(event.to_json() + "\n")
            self._file.flush()

    def close(self) -> None:
        """Close the file; later events are an error."""
        with self._lock:
            self._file.close()


class CallbackSink(EventSink):
    """Hands each event to a host's callable, on the thread that emitted it."""

    def __init__(self, callback: Callable[[Event], None]) -> None:
        self._callback = callback

    def emit(self, event: Event) -> None:
        """Call the host; if it raises, the bus drops this sink and warns the others."""
        self._callback(event)
