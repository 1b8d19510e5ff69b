"""A minimal, private subprocess supervisor for the Terraform driver.

It runs one command in its own process group with an explicit environment, hands each line of
standard output to a callback in the calling thread as it arrives, and honours a
:class:`~qengine.interfaces.CancelToken`: on cancellation the whole group gets SIGINT, then a
grace period to exit (Terraform uses it to stop cleanly and release its state lock), then
SIGKILL. A forced cancellation skips the grace period.

Deliberately small and private so that it can be replaced by the runner's generic subprocess
module once that exists; nothing outside :mod:`qengine.terraform` imports it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import attrs

from qengine.interfaces.cancel import CancelToken

_POLL_SECONDS = 0.05
# After the main process exits, its descendants may still hold the pipes open.
_PIPE_DRAIN_SECONDS = 5.0

LineCallback = Callable[[str], None]


@attrs.frozen(kw_only=True)
class Completed:
    """What a finished command left: exit status, captured lines, and whether we interrupted it."""

    returncode: int
    stdout: tuple[str, ...]
    stderr: tuple[str, ...]
    interrupted: bool
    killed: bool


@attrs.frozen(kw_only=True)
class _Line:
    stream: str
    text: str | None  # None marks the end of the stream


def _pump(stream_name: str, pipe: IO[str], lines: queue.Queue[_Line]) -> None:
    with pipe:
        for raw in pipe:
            lines.put(_Line(stream=stream_name, text=raw.rstrip("\r\n")))
    lines.put(_Line(stream=stream_name, text=None))


class _Supervisor:
    """Owns one child process group from start to reaping."""

    def __init__(self, proc: subprocess.Popen[str], cancel: CancelToken, grace: float) -> None:
        self._proc = proc
        self._cancel = cancel
        self._grace = grace
        self._deadline: float | None = None
        self._exited_at: float | None = None
        self.interrupted = False
        self.killed = False

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def signal_group(self, signum: int) -> None:
        self.killed = self.killed or signum == signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):  # the whole group is already gone
            os.killpg(self._proc.pid, signum)

    def interrupt(self, *, forced: bool) -> None:
        """Send SIGINT once; from now on the grace period runs (zero when forced)."""
        if not self.interrupted:
            self.interrupted = True
            self.signal_group(signal.SIGINT)
            self._deadline = time.monotonic() + self._grace
        if forced:
            self._deadline = time.monotonic()

    def tick(self) -> bool:
        """Enforce cancellation and deadlines; True while the pipes should still be read."""
        if self._cancel.cancelled:
            self.interrupt(forced=self._cancel.forced)
        now = time.monotonic()
        if self._deadline is not None and now >= self._deadline and self._proc.poll() is None:
            self.signal_group(signal.SIGKILL)
        if self._proc.poll() is not None and self._exited_at is None:
            self._exited_at = now
        if self._exited_at is not None and now - self._exited_at > _PIPE_DRAIN_SECONDS:
            self.signal_group(signal.SIGKILL)  # a leftover descendant still holds a pipe
            return False
        return True


def _start(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # own process group: signals reach terraform and its children
    )


def _collect(
    sup: _Supervisor, lines: queue.Queue[_Line], on_stdout: LineCallback | None
) -> dict[str, list[str]]:
    captured: dict[str, list[str]] = {"stdout": [], "stderr": []}
    open_streams = 2
    while (open_streams or sup.running) and sup.tick():
        try:
            line = lines.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue
        if line.text is None:
            open_streams -= 1
            continue
        captured[line.stream].append(line.text)
        if line.stream == "stdout" and on_stdout is not None:
            on_stdout(line.text)
    return captured


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    cancel: CancelToken,
    grace: float,
    on_stdout: LineCallback | None = None,
) -> Completed:
    """Run ``argv`` to completion (or cancellation) and return what it printed.

    The child never inherits our environment: ``env`` is all it gets. Whatever happens in
    here (a callback raising included), the process group is interrupted, given ``grace``
    seconds, killed if need be, and reaped before this function returns or raises.
    """
    proc = _start(argv, cwd, env)
    assert proc.stdout is not None
    assert proc.stderr is not None
    lines: queue.Queue[_Line] = queue.Queue()
    sup = _Supervisor(proc, cancel, grace)
    pumps = [
        threading.Thread(target=_pump, args=("stdout", proc.stdout, lines), daemon=True),
        threading.Thread(target=_pump, args=("stderr", proc.stderr, lines), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        captured = _collect(sup, lines, on_stdout)
        returncode = proc.wait()
    except BaseException:
        _stop(sup, proc, grace)
        raise
    return Completed(
        returncode=returncode,
        stdout=tuple(captured["stdout"]),
        stderr=tuple(captured["stderr"]),
        interrupted=sup.interrupted,
        killed=sup.killed,
    )


def _stop(sup: _Supervisor, proc: subprocess.Popen[str], grace: float) -> None:
    sup.interrupt(forced=False)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        sup.signal_group(signal.SIGKILL)
        proc.wait()
