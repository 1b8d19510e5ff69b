"""Where the embedded state store lives: ``--state-dir``, else ``QENGINE_STATE_DIR``, else
``$XDG_STATE_HOME/qengine``, else ``~/.local/state/qengine``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["resolve_state_dir"]


def resolve_state_dir(option: Path | None, environ: Mapping[str, str]) -> Path:
    """The state directory for ``option`` (the command-line value) and ``environ``.

    ``environ`` is passed in (the CLI gives ``os.environ``) so callers and tests choose it.
    """
    if option is not None:
        return option.expanduser()
    if environ.get("QENGINE_STATE_DIR"):
        return Path(environ["QENGINE_STATE_DIR"]).expanduser()
    if environ.get("XDG_STATE_HOME"):
        return Path(environ["XDG_STATE_HOME"]) / "qengine"
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return home / ".local" / "state" / "qengine"
