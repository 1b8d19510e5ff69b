"""Where qengine keeps its state: key files, the state store, the audit log."""

from __future__ import annotations

import os
import pathlib
import sys
from collections.abc import Mapping

STATE_DIR_ENV = "QENGINE_STATE_DIR"
APP_NAME = "qengine"


def resolve_state_dir(explicit: pathlib.Path | None, environ: Mapping[str, str]) -> pathlib.Path:
    """The state directory, without creating it.

    Precedence: ``explicit`` (``--state-dir``), then ``$QENGINE_STATE_DIR``, then the
    platform's user state directory as platformdirs gives it (``user_state_dir("qengine")``):
    ``$XDG_STATE_HOME/qengine``, else ``~/.local/state/qengine`` on Linux and other Unixes,
    ``~/Library/Application Support/qengine`` on macOS, ``%LOCALAPPDATA%\\qengine`` on
    Windows. Variables are read from ``environ`` (the caller passes ``os.environ`` or its own
    mapping; platformdirs reads only ``os.environ``, so for another mapping the Unix rule is
    applied to that mapping's ``XDG_STATE_HOME`` and ``HOME``).
    """
    if explicit is not None:
        return explicit.expanduser()
    if environ.get(STATE_DIR_ENV):
        return pathlib.Path(environ[STATE_DIR_ENV]).expanduser()
    if environ is os.environ or sys.platform in ("darwin", "win32"):
        import platformdirs

        return pathlib.Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
    if environ.get("XDG_STATE_HOME"):
        return pathlib.Path(environ["XDG_STATE_HOME"]) / APP_NAME
    home = pathlib.Path(environ["HOME"]) if environ.get("HOME") else pathlib.Path.home()
    return home / ".local" / "state" / APP_NAME


def state_dir(
    explicit: pathlib.Path | None = None, *, environ: Mapping[str, str] | None = None
) -> pathlib.Path:
    """:func:`resolve_state_dir`, created (mode 0700) if it does not exist.

    ``environ`` defaults to ``os.environ``, which is only read. An existing directory is refused
    when another user owns it or group or others may write to it, and made 0700 (with a
    warning) when others may only read it.
    """
    from qengine.secrets._filemode import trusted_directory

    path = resolve_state_dir(explicit, os.environ if environ is None else environ)
    return trusted_directory(path)
