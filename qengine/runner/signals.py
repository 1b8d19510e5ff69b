"""Turning SIGINT and SIGTERM into a job's cancellation, for a command line's main thread.

The library never installs signal handlers itself (a host process owns its signals); the
``qengine run`` command does, through :func:`cancel_on_signals`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from qengine.interfaces.cancel import CancelToken

__all__ = ["cancel_on_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def cancel_on_signals(token: CancelToken) -> Iterator[CancelToken]:
    """While inside, the first SIGINT/SIGTERM cancels ``token``, the second forces it.

    Pre: called from the main thread (only it may install handlers; RuntimeError otherwise).
    Post: the previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("signal handlers can only be installed from the main thread")

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        token.cancel(f"received {name}", force=token.cancelled)

    previous = {signum: signal.signal(signum, on_signal) for signum in _SIGNALS}
    try:
        yield token
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
