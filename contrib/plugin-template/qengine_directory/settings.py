"""What the host decides for every job of this plugin: its engine settings.

Settings are never part of a job. A host gives them as ``Engine(settings={"directory":
DirectorySettings(...)})``; ``qengine run --directory-root DIR`` gives them through the
plugin's option hooks, and a sandbox run through ``qengine_sandbox`` (see ``plugin.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from qengine.plugin import InvalidInputError
from qengine_directory.spec import NAME

if TYPE_CHECKING:
    from qengine.plugin import JobServices
    from qengine_directory.spec import DirectoryTarget


@attrs.frozen(kw_only=True)
class DirectorySettings:
    """``root``: target paths must lie under it, so a job sent by a control plane cannot write
    anywhere else on the engine's machine (None: anywhere). ``sandbox``: a directory standing
    in for ``/`` in a sandbox run: the files go under it, never to the target's own path."""

    root: Path | None = None
    sandbox: Path | None = None


def target_directory(section: DirectoryTarget, services: JobServices) -> Path:
    """Where the job's files go: the target's path, within the host's root or the sandbox.

    Raises :class:`~qengine.plugin.InvalidInputError` for a path outside the host's root.
    """
    settings = services.settings_for(NAME, DirectorySettings) or DirectorySettings()
    path = Path(section.path)
    if settings.sandbox is not None:
        return settings.sandbox / path.relative_to("/")
    # Resolved, so that a symbolic link cannot lead a path out of the root.
    if settings.root is not None and not path.resolve().is_relative_to(settings.root.resolve()):
        raise InvalidInputError(
            f"the {NAME} target {path} is outside {settings.root}, where this engine writes",
            hint=f"Give the target a path under {settings.root}, or run the engine with "
            f"another --{NAME}-root.",
        )
    return path
