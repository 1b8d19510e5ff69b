"""Subprocesses: explicit environment, streamed output, SIGINT then SIGKILL on cancel."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from qengine.interfaces.cancel import CancelToken
from qengine.runner import run_process

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ONLY_THIS": "1"}

# The handler writes with os.write: SIGINT may land while print() still holds stdout's buffer.
TRAPS_SIGINT = """
import os, signal, sys, time
def stop(signum, frame):
    os.write(1, b"cleaning up after SIGINT\\n")
    sys.exit(7)
signal.signal(signal.SIGINT, stop)
print("working", flush=True)
time.sleep(60)
"""

IGNORES_SIGINT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def _collect(argv: list[str], cancel: CancelToken) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = run_process(argv, env=ENV, on_line=lines.append, cancel=cancel)
    return code, lines


def _cancel_when(lines_seen: list[str], token: CancelToken, *, force: bool = False) -> None:
    def watch() -> None:
        while not lines_seen:
            time.sleep(0.01)
        token.cancel("test", force=force)

    threading.Thread(target=watch, daemon=True).start()


def test_output_is_streamed_and_the_exit_code_returned() -> None:
    code = "import sys; print('one'); print('two', file=sys.stderr); sys.exit(3)"
    exit_code, lines = _collect([sys.executable, "-c", code], CancelToken())
    assert exit_code == 3
    assert sorted(lines) == ["one", "two"]


def test_the_child_gets_exactly_the_given_environment() -> None:
    exit_code, lines = _collect(["env"], CancelToken())
    assert exit_code == 0
    assert sorted(lines) == sorted(f"{key}={value}" for key, value in ENV.items())


def test_the_working_directory_is_explicit(tmp_path: Path) -> None:
    lines: list[str] = []
    run_process(["pwd"], env=ENV, on_line=lines.append, cancel=CancelToken(), cwd=tmp_path)
    assert lines == [str(tmp_path)]


def test_cancellation_sends_sigint_first() -> None:
    token = CancelToken()
    lines: list[str] = []
    _cancel_when(lines, token)
    started = time.monotonic()
    exit_code = run_process(
        [sys.executable, "-c", TRAPS_SIGINT], env=ENV, on_line=lines.append, cancel=token
    )
    assert exit_code == 7
    assert lines == ["working", "cleaning up after SIGINT"]
    assert time.monotonic() - started < 5


def test_a_child_deaf_to_sigint_is_killed_after_the_grace_with_its_group() -> None:
    token = CancelToken()
    lines: list[str] = []
    _cancel_when(lines, token)
    started = time.monotonic()
    exit_code = run_process(
        [sys.executable, "-c", IGNORES_SIGINT],
        env=ENV,
        on_line=lines.append,
        cancel=token,
        grace_seconds=0.5,
    )
    took = time.monotonic() - started
    assert exit_code == -9
    assert 0.5 <= took < 5
    grandchild = int(lines[0])
    time.sleep(0.1)
    assert not Path(f"/proc/{grandchild}").exists() or _is_zombie(grandchild)


def test_a_forced_cancellation_kills_at_once() -> None:
    token = CancelToken()
    lines: list[str] = []
    _cancel_when(lines, token, force=True)
    started = time.monotonic()
    exit_code = run_process(
        [sys.executable, "-c", IGNORES_SIGINT],
        env=ENV,
        on_line=lines.append,
        cancel=token,
        grace_seconds=30,
    )
    assert exit_code == -9
    assert time.monotonic() - started < 5


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def test_a_failing_line_callback_does_not_block_the_child() -> None:
    calls: list[str] = []

    def picky(line: str) -> None:
        calls.append(line)
        raise ValueError("cannot parse")

    code = "import sys; [print('x' * 1000) for _ in range(500)]; sys.exit(0)"
    started = time.monotonic()
    with pytest.raises(ValueError, match="cannot parse"):
        run_process([sys.executable, "-c", code], env=ENV, on_line=picky, cancel=CancelToken())
    assert len(calls) == 1
    assert time.monotonic() - started < 10
