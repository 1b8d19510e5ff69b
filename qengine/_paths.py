"""Where qengine keeps its state: key files, the state store, the audit log."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

STATE_DIR_ENV = "QENGINE_STATE_DIR"


def state_dir(
    explicit: pathlib.Path | None = None, *, environ: Mapping[str, str] | None = None
) -> pathlib.Path:
    """Return the state directory, creating it (mode 0700) if it does not exist.

    Precedence: ``explicit`` (``--state-dir``), then ``$QENGINE_STATE_DIR`` (read from
    ``environ``, default ``os.environ``), then ``$XDG_STATE_HOME/qengine``, then
    ``~/.local/state/qengine`` (``~`` from ``$HOME`` in ``environ``). An existing
    directory's mode is left as it is.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        path = explicit
    elif env.get(STATE_DIR_ENV):
        path = pathlib.Path(env[STATE_DIR_ENV])
    elif env.get("XDG_STATE_HOME"):
        path = pathlib.Path(env["XDG_STATE_HOME"]) / "qengine"
    else:
        home = pathlib.Path(env["HOME"]) if env.get("HOME") else pathlib.Path.home()
        path = home / ".local" / "state" / "qengine"
    path = path.expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path
