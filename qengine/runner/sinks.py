"""Event sinks: a JSON-lines file, a host's callback, and a console view for people.

The console view draws a live block of the running steps on a terminal (a few lines
rewritten in place with ANSI cursor codes) and prints plain lines when the stream is not a
terminal. Either way it ends with the job's recap: what changed, how long each step took,
what failed, why, and what to do about it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TextIO

import attrs

from qengine._events import Event, EventType
from qengine._terminal import terminal_safe
from qengine.interfaces.events import EventSink

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


@attrs.define
class _Recap:
    """What the console remembers for the final recap."""

    durations: dict[str, float] = attrs.field(factory=dict)
    statuses: dict[str, str] = attrs.field(factory=dict)
    changes: list[str] = attrs.field(factory=list)
    failures: list[tuple[str, str, str]] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)


_STATUS_OF = MappingProxyType(
    {
        EventType.STEP_FINISHED: "succeeded",
        EventType.STEP_FAILED: "failed",
        EventType.STEP_SKIPPED: "skipped",
        EventType.STEP_CANCELLED: "cancelled",
        EventType.STEP_COMPENSATED: "rolled back",
    }
)
_LIVE_LINES = 6


def _terminal_safe(event: Event) -> Event:
    """The event with tool output's escape sequences neutralised (see ``terminal_safe``)."""
    data = {k: terminal_safe(v) if isinstance(v, str) else v for k, v in event.data.items()}
    step = None if event.step_id is None else terminal_safe(event.step_id)
    return attrs.evolve(event, message=terminal_safe(event.message), data=data, step_id=step)


class ConsoleSink(EventSink):
    """A view of the job for people, on ``stream``; ``live`` defaults to ``stream.isatty()``."""

    def __init__(self, stream: TextIO, *, live: bool | None = None) -> None:
        self._stream = stream
        self._live = stream.isatty() if live is None else live
        self._running: dict[str, tuple[float, str]] = {}
        self._drawn = 0
        self._recap = _Recap()
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Update the view with ``event``; on ``job.finished``, print the recap."""
        event = _terminal_safe(event)
        with self._lock:
            self._remember(event)
            line = _plain_line(event)
            if event.type is EventType.JOB_FINISHED:
                self._write_lines([line, *render_recap(self._recap, event)], redraw=False)
            elif self._live:
                self._write_lines(
                    [] if event.type is EventType.STEP_PROGRESS else [line], redraw=True
                )
            else:
                self._write_lines([line], redraw=False)

    def _remember(self, event: Event) -> None:
        step = event.step_id or ""
        if event.type is EventType.STEP_STARTED:
            self._running[step] = (time.monotonic(), event.message)
        elif event.type is EventType.STEP_PROGRESS and step in self._running:
            self._running[step] = (self._running[step][0], event.message)
        elif event.type in _STATUS_OF:
            self._running.pop(step, None)
            self._recap.statuses[step] = _STATUS_OF[event.type]
            duration = event.data.get("duration_seconds")
            if isinstance(duration, int | float) and event.type is not EventType.STEP_COMPENSATED:
                self._recap.durations[step] = float(duration)
        if event.type is EventType.STEP_FAILED:
            self._recap.failures.append((step, event.message, str(event.data.get("hint") or "")))
        elif event.type is EventType.RESOURCE_CHANGED:
            self._recap.changes.append(f"{event.message}  ({step})")
        elif event.type is EventType.WARNING:
            self._recap.warnings.append(event.message)

    def _write_lines(self, lines: list[str], *, redraw: bool) -> None:
        erase = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        block = self._live_block() if redraw else []
        self._drawn = len(block)
        text = "".join(f"{line}\n" for line in [*lines, *block])
        self._stream.write(erase + text)
        self._stream.flush()

    def _live_block(self) -> list[str]:
        now = time.monotonic()
        running = sorted(self._running.items(), key=lambda item: item[1][0])
        lines = [
            f"  \x1b[1m⠿\x1b[0m {step}  {now - started:5.1f}s  {message}"
            for step, (started, message) in running[:_LIVE_LINES]
        ]
        if len(running) > _LIVE_LINES:
            lines.append(f"    ... and {len(running) - _LIVE_LINES} more running")
        return lines


def _plain_line(event: Event) -> str:
    stamp = event.time[11:19]
    where = f" {event.step_id}:" if event.step_id else ""
    return f"[{stamp}] {event.type.value:<16}{where} {event.message}"


def render_recap(recap: _Recap, finished: Event) -> list[str]:
    """The job's recap lines, from what the console saw and the ``job.finished`` event."""
    total = finished.data.get("duration_seconds")
    took = f"{total:.2f}s" if isinstance(total, int | float) else "?"
    lines = ["", f"Job {finished.job_id} {finished.data.get('status', '?')} in {took}"]
    if recap.changes:
        lines += ["Changed:", *(f"  {change}" for change in recap.changes)]
    lines.append("Steps:")
    width = max((len(step) for step in recap.statuses), default=0)
    for step, status in recap.statuses.items():
        seconds = recap.durations.get(step)
        took = f"{seconds:8.2f}s" if seconds is not None else ""
        lines.append(f"  {step:<{width}}  {status:<11} {took}")
    for step, message, hint in recap.failures:
        lines.append(f"Failed: {step}: {message}")
        if hint:
            lines.append(f"  hint: {hint}")
    for key, label in (("rolled_back", "Rolled back"), ("left_in_place", "Left as it was")):
        value = finished.data.get(key)
        if value:
            lines.append(f"{label}: {value}")
    lines += [f"Warning: {warning}" for warning in recap.warnings]
    return lines
