"""Running a tool (terraform, helm, ...) as a subprocess that a job can cancel.

The child gets exactly the environment it is given (never the host's ``os.environ``), runs in
a process group of its own, and has its output (stdout and stderr, merged) streamed line by
line to a callback, which should redact before showing anything. On cancellation the whole
group gets SIGINT, so tools like Terraform can release their state lock and stop cleanly;
after a grace period (none when the cancellation is forced) it gets SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from qengine.interfaces.cancel import CancelToken

__all__ = ["run_process"]


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    on_line: Callable[[str], None],
    cancel: CancelToken,
    cwd: Path | None = None,
    grace_seconds: float = 10.0,
    poll_seconds: float = 0.05,
) -> int:
    """Run ``argv`` to completion or cancellation and return its exit code.

    Pre: ``argv[0]`` is found on ``env["PATH"]`` or is a path. ``on_line`` gets each output
    line without its newline, on a reader thread, in order.
    Post: the process group has been signalled and the child reaped; after a cancellation the
    exit code is the child's (negative: the signal that ended it). The caller decides what a
    cancellation means (usually ``cancel.raise_if_cancelled()``). If ``on_line`` raised, the
    child still runs to its end (its output is drained) and the first such error is raised.
    """
    child = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert child.stdout is not None
    failures: list[BaseException] = []
    reader = threading.Thread(
        target=_pump,
        args=(child.stdout, on_line, failures),
        name="qengine-process-output",
        daemon=True,
    )
    reader.start()
    try:
        while child.poll() is None:
            if cancel.wait(poll_seconds):
                _stop(child, cancel, grace_seconds, poll_seconds)
                break
    finally:
        if child.poll() is None:
            _signal_group(child, signal.SIGKILL)
        child.wait()
        reader.join(timeout=grace_seconds)
        if reader.is_alive():
            # A grandchild still holds the output pipe open: it belongs to the tool's group.
            _signal_group(child, signal.SIGKILL)
            reader.join()
    if failures:
        raise failures[0]
    return child.returncode


def _pump(stream: IO[bytes], on_line: Callable[[str], None], failures: list[BaseException]) -> None:
    """Feed lines to ``on_line``; if it raises, keep draining (a full pipe would block the
    child) and keep the error for the caller."""
    with stream:
        for raw in stream:
            if failures:
                continue
            try:
                on_line(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            except BaseException as exc:  # re-raised by run_process once the child is done
                failures.append(exc)


def _stop(
    child: subprocess.Popen[bytes], cancel: CancelToken, grace_seconds: float, poll: float
) -> None:
    """SIGINT the group, wait out the grace (cut short by a forced cancel), then SIGKILL."""
    _signal_group(child, signal.SIGINT)
    deadline = time.monotonic() + grace_seconds
    while child.poll() is None and time.monotonic() < deadline and not cancel.forced:
        time.sleep(poll)  # the token is already set, so its wait() would not pause
    if child.poll() is None:
        _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is already gone
        os.killpg(child.pid, signum)
