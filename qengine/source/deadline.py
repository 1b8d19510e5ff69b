"""Cancel tokens that also fire when an operation's time is up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import attrs

from qengine._errors import BuildError, CancelledError
from qengine.interfaces.cancel import CancelToken

_POLL = 0.1


@attrs.define
class Deadline:
    """``token`` is cancelled when ``parent`` is (a forced cancel stays forced), or after
    ``seconds``; ``expired`` tells the second case."""

    token: CancelToken
    expired: bool = False


@contextmanager
def deadline(parent: CancelToken, seconds: float) -> Iterator[Deadline]:
    """A child token for one operation; its watcher thread ends with the block."""
    state = Deadline(CancelToken())
    done = threading.Event()
    end = time.monotonic() + seconds

    def watch() -> None:
        while not done.wait(_POLL):
            if parent.cancelled and (not state.token.cancelled or parent.forced):
                state.token.cancel(parent.reason or "cancelled", force=parent.forced)
            elif not state.token.cancelled and time.monotonic() >= end:
                state.expired = True
                state.token.cancel(f"timed out after {seconds:g} s")

    watcher = threading.Thread(target=watch, name="qengine-deadline", daemon=True)
    watcher.start()
    try:
        yield state
    finally:
        done.set()
        watcher.join()


@contextmanager
def build_deadline(cancel: CancelToken, seconds: float, image: str) -> Iterator[CancelToken]:
    """The token a backend builds and pushes ``image`` under, for every build backend alike.

    The token fires when ``cancel`` does or after ``seconds``. A BuildError or CancelledError
    leaving the block after the time is up becomes one BuildError saying the build of
    ``image`` timed out and nothing was pushed; before that, they pass unchanged (so a job's
    cancellation stays a CancelledError). The backend must push nothing once the token fired.
    """
    with deadline(cancel, seconds) as limit:
        try:
            yield limit.token
        except (BuildError, CancelledError):
            if not limit.expired:
                raise
            raise BuildError(
                f"the build of {image} timed out after {seconds:g} s; nothing was pushed",
                hint="Raise build_timeout for the service, or make the build faster.",
            ) from None
