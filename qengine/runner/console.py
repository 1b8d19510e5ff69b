"""The console view of a job, for people, drawn with rich.

On a terminal, a live block at the bottom shows each running step with a spinner, its elapsed
time (redrawn several times a second, so a long step never looks frozen) and its latest
progress message; every line of the block is cut to the terminal's width with an ellipsis, so
a narrow terminal never wraps it into copies that the next redraw cannot erase. Events print
above the block, one line each; the block is erased when the job ends and the recap follows.

When the stream is not a terminal (a pipe, a file, a CI log) the view prints plain lines, one
per event, with no cursor movement and no colour, and rich is not even imported.

Colour follows ``NO_COLOR`` (https://no-color.org) unless ``color`` says otherwise. Every
text from an event is passed through :func:`~qengine._terminal.terminal_safe` first: the
escape sequences a tool prints are shown, never sent; events reach a sink already redacted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, TextIO

import attrs

from qengine._events import Event, EventType
from qengine._terminal import terminal_safe
from qengine.interfaces.events import EventSink
from qengine.runner.recap import ENDINGS, Recap, recap_style, render_recap

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

__all__ = ["ConsoleSink"]

_STYLE_OF = MappingProxyType(
    {
        EventType.JOB_STARTED: "bold",
        EventType.STEP_FINISHED: "green",
        EventType.STEP_FAILED: "bold red",
        EventType.STEP_SKIPPED: "dim",
        EventType.STEP_CANCELLED: "yellow",
        EventType.STEP_COMPENSATED: "yellow",
        EventType.RESOURCE_CHANGED: "cyan",
        EventType.WARNING: "yellow",
        EventType.LOG: "dim",
    }
)
_JOB_STYLE = MappingProxyType({"succeeded": "bold green", "failed": "bold red"})
_LIVE_LINES = 6
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
_ASCII_SPINNER = "-\\|/"


@attrs.frozen
class _Running:
    """A step the live block shows: since when it runs and what it last said."""

    step: str
    started: float
    message: str


@attrs.frozen
class _Board:
    """What the live block draws; replaced whole, so the refresh thread reads it unlocked."""

    job_id: str = ""
    started: float = 0.0
    total: int = 0
    done: int = 0
    running: tuple[_Running, ...] = ()


def _terminal_safe(event: Event) -> Event:
    """The event with tool output's escape sequences neutralised (see ``terminal_safe``)."""
    data = {k: terminal_safe(v) if isinstance(v, str) else v for k, v in event.data.items()}
    step = None if event.step_id is None else terminal_safe(event.step_id)
    return attrs.evolve(event, message=terminal_safe(event.message), data=data, step_id=step)


class ConsoleSink(EventSink):
    """A view of the job for people, on ``stream``.

    ``live`` (default: ``stream.isatty()``) draws the live block; otherwise plain lines.
    ``color`` False turns colour off, True on, None (default) follows ``NO_COLOR``.
    ``next_steps`` are lines printed under the recap of a job that succeeded (how to look at
    what it deployed). ``console`` is a rich Console to draw on instead of one made for
    ``stream`` (a host that already uses rich, or a test recording the output).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        live: bool | None = None,
        color: bool | None = None,
        next_steps: Sequence[str] = (),
        console: Console | None = None,
    ) -> None:
        self._stream = stream
        self._next_steps = tuple(terminal_safe(line) for line in next_steps)
        self._recap = Recap()
        self._board = _Board()
        self._lock = threading.Lock()
        self._live: Live | None = None
        self._console: Console | None = console
        if console is None and (stream.isatty() if live is None else live):
            self._console = _make_console(stream, color)
        if self._console is not None and self._console.is_dumb_terminal:
            self._console = None  # TERM=dumb: no cursor movement, so plain lines
        self._spinner = _SPINNER
        if self._console is not None and not self._console.encoding.lower().startswith("utf"):
            self._spinner = _ASCII_SPINNER

    def emit(self, event: Event) -> None:
        """Update the view with ``event``; on ``job.finished``, print the recap."""
        event = _terminal_safe(event)
        with self._lock:
            self._remember(event)
            style = _STYLE_OF.get(event.type, "")
            if event.type is EventType.JOB_FINISHED:
                self._stop_live()
                self._print(_plain_line(event), _JOB_STYLE.get(str(event.data.get("status"))))
                self._print_recap(event)
                return
            if self._console is not None and self._live is None:
                self._start_live()
            if self._console is None or event.type is not EventType.STEP_PROGRESS:
                self._print(_plain_line(event), style)

    def close(self) -> None:
        """Erase the live block if the job ended without ``job.finished`` (it crashed)."""
        with self._lock:
            self._stop_live()

    def _remember(self, event: Event) -> None:
        self._recap.remember(event)
        step = event.step_id or ""
        board = self._board
        running = {r.step: r for r in board.running}
        if event.type is EventType.JOB_STARTED:
            total = event.data.get("steps")
            board = attrs.evolve(
                board,
                job_id=event.job_id,
                started=time.monotonic(),
                total=total if isinstance(total, int) else 0,
            )
        elif event.type is EventType.STEP_STARTED:
            running[step] = _Running(step, time.monotonic(), event.message)
        elif event.type is EventType.STEP_PROGRESS and step in running:
            running[step] = attrs.evolve(running[step], message=event.message)
        elif event.type in ENDINGS:
            running.pop(step, None)
            board = attrs.evolve(board, done=len(self._recap.statuses))
        self._board = attrs.evolve(board, running=tuple(running.values()))

    def _print(self, line: str, style: str | None = None) -> None:
        if self._console is None:
            self._stream.write(line + "\n")
            self._stream.flush()
            return
        from rich.text import Text

        # Soft-wrapped by the terminal, not broken by rich: a command in the recap or a long
        # path copies whole, and each event stays one logical line.
        self._console.print(Text(line, style=style or ""), soft_wrap=True)

    def _print_recap(self, finished: Event) -> None:
        lines = render_recap(self._recap, finished)
        if finished.data.get("status") == "succeeded" and self._next_steps:
            lines += ["Next:", *(f"  {line}" for line in self._next_steps)]
        for line in lines:
            self._print(line, recap_style(line))

    def _start_live(self) -> None:
        from rich.live import Live

        # The stream stays as it is: a sink must not swap a process's sys.stdout/stderr.
        self._live = Live(
            console=self._console,
            get_renderable=self._render_board,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render_board(self) -> RenderableType:
        """The live block; called by rich's refresh thread, so it reads ``_board`` only."""
        from rich.console import Group
        from rich.text import Text

        board = self._board
        now = time.monotonic()
        frame = self._spinner[int(now * 8) % len(self._spinner)]
        if not board.job_id:
            return Group()
        head = Text(no_wrap=True, overflow="ellipsis")
        head.append(f"{frame} ", style="cyan")
        head.append(f"job {board.job_id}", style="bold")
        head.append(f"  {board.done}/{board.total} steps  {_clock(now - board.started)}")
        lines = [head]
        running = sorted(board.running, key=lambda r: r.started)
        for item in running[:_LIVE_LINES]:
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append(f"  {frame} ", style="cyan")
            line.append(item.step, style="bold")
            line.append(f"  {_clock(now - item.started)}", style="yellow")
            if item.message:
                line.append(f"  {item.message}", style="dim")
            lines.append(line)
        if len(running) > _LIVE_LINES:
            more = f"    ... and {len(running) - _LIVE_LINES} more running"
            lines.append(Text(more, no_wrap=True, overflow="ellipsis", style="dim"))
        # The cursor rests on an empty last line: what the terminal itself echoes there (^C)
        # cannot wrap into a line the next redraw would not know to erase.
        return Group(*lines, Text())


def _make_console(stream: TextIO, color: bool | None) -> Console:
    from rich.console import Console

    return Console(
        file=stream,
        force_terminal=True,
        no_color=None if color is None else not color,
        markup=False,
        emoji=False,
        highlight=False,
    )


def _clock(seconds: float) -> str:
    """Whole seconds, so the figure moves every second: ``7s``, ``3m05s``, ``1h02m``."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _plain_line(event: Event) -> str:
    stamp = event.time[11:19]
    where = f" {event.step_id}:" if event.step_id else ""
    return f"[{stamp}] {event.type.value:<16}{where} {event.message}"
