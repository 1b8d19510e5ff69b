"""What the command line needs from the runner: the state directory and signal handling."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qengine._paths import resolve_state_dir
from qengine.interfaces.cancel import CancelToken
from qengine.runner.signals import cancel_on_signals


@pytest.mark.parametrize(
    ("option", "environ", "expected"),
    [
        ("/opt/state", {"QENGINE_STATE_DIR": "/env/state"}, "/opt/state"),
        (None, {"QENGINE_STATE_DIR": "/env/state", "HOME": "/home/u"}, "/env/state"),
        (None, {"XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/qengine"),
        (None, {"HOME": "/home/u"}, "/home/u/.local/state/qengine"),
        (None, {"QENGINE_STATE_DIR": "", "HOME": "/home/u"}, "/home/u/.local/state/qengine"),
    ],
    ids=["option-wins", "environment", "xdg", "home", "empty-variable-ignored"],
)
def test_state_dir_resolution(option: str | None, environ: dict[str, str], expected: str) -> None:
    given = Path(option) if option is not None else None
    assert resolve_state_dir(given, environ) == Path(expected)


def test_first_signal_cancels_second_forces_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with cancel_on_signals(CancelToken()) as token:
        os.kill(os.getpid(), signal.SIGTERM)
        assert token.wait(5)
        assert token.reason == "received SIGTERM"
        assert not token.forced
        os.kill(os.getpid(), signal.SIGINT)
        assert _eventually(lambda: token.forced)
    assert signal.getsignal(signal.SIGTERM) is before


def _eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_signal_handlers_are_refused_off_the_main_thread() -> None:
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            with cancel_on_signals(CancelToken()):
                pass
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join()
    assert len(errors) == 1
