"""The ``target`` section this plugin provides, and the plugin's name.

The name is the entry point's, the section's ``kind``, the key of the plugin's engine settings
and the prefix of its command-line options and step ids: a copy of this plugin renames it here
and in the ``Literal`` below (and in ``pyproject.toml``).
"""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import AbsolutePath, TargetSpec

NAME = "directory"


@attrs.frozen(kw_only=True)
class DirectoryTarget(TargetSpec):
    """An environment rendered to files under ``path``: ``<path>/<environment>/<service>.json``.

    ``path`` is absolute; the host may confine it to a root (``--directory-root``).
    """

    kind: Literal["directory"]
    path: AbsolutePath
