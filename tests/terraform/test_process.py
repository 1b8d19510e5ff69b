"""The private subprocess supervisor, with real child processes."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from qengine.interfaces import CancelToken
from qengine.terraform import _process

IGNORES_SIGINT = (
    "import signal, time\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
STOPS_ON_SIGINT = (
    # A child inherits an ignored SIGINT (a test run started in the background by a shell):
    # this stand-in for terraform takes SIGINT as terraform does, whatever it inherited.
    "import signal, time\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "print('ready', flush=True)\n"
    "try:\n    time.sleep(60)\n"
    "except KeyboardInterrupt:\n    print('cleaned up', flush=True)\n    raise SystemExit(1)\n"
)


def _python(
    code: str, tmp_path: Path, cancel: CancelToken, grace: float = 10.0
) -> _process.Completed:
    def on_stdout(line: str) -> None:
        if line == "ready":
            threading.Timer(0.2, cancel.cancel, args=("test",)).start()

    return _process.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        cancel=cancel,
        grace=grace,
        on_stdout=on_stdout,
    )


def test_lines_are_streamed_and_the_environment_is_exactly_what_was_given(tmp_path: Path) -> None:
    seen: list[str] = []
    code = "import os, sys\nprint(sorted(os.environ))\nprint('oops', file=sys.stderr)\nprint('end')"
    completed = _process.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"ONLY": "1"},
        cancel=CancelToken(),
        grace=1.0,
        on_stdout=seen.append,
    )
    assert completed.returncode == 0
    assert seen[1] == "end"
    assert seen[0] in ("['LC_CTYPE', 'ONLY']", "['ONLY']")  # Python may add LC_CTYPE itself
    assert completed.stderr == ("oops",)
    assert not completed.interrupted


def test_cancel_interrupts_and_waits_for_a_clean_exit(tmp_path: Path) -> None:
    completed = _python(STOPS_ON_SIGINT, tmp_path, CancelToken())
    assert completed.interrupted
    assert not completed.killed
    assert completed.stdout == ("ready", "cleaned up")


def test_a_child_ignoring_sigint_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    started = time.monotonic()
    completed = _python(IGNORES_SIGINT, tmp_path, CancelToken(), grace=1.0)
    assert completed.interrupted
    assert completed.killed
    assert 1.0 <= time.monotonic() - started < 10


def test_forced_cancel_kills_without_grace(tmp_path: Path) -> None:
    cancel = CancelToken()
    cancel.cancel("first", force=True)
    started = time.monotonic()
    completed = _python(IGNORES_SIGINT, tmp_path, cancel, grace=30.0)
    assert completed.killed
    assert time.monotonic() - started < 10


def test_a_failing_callback_still_stops_the_child(tmp_path: Path) -> None:
    def explode(line: str) -> None:
        raise ValueError(line)

    with pytest.raises(ValueError, match="ready"):
        _process.run(
            [sys.executable, "-c", IGNORES_SIGINT],
            cwd=tmp_path,
            env={},
            cancel=CancelToken(),
            grace=0.5,
            on_stdout=explode,
        )
