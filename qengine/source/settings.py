"""The engine's settings of the build steps, whatever the build backend."""

from __future__ import annotations

from pathlib import Path

import attrs

BUILD_SETTINGS = "build"
"""The key of :class:`BuildSettings` in the engine's settings (``Engine(settings=...)``)."""


@attrs.frozen(kw_only=True)
class BuildSettings:
    """How the host wants builds done: ``Engine(settings={"build": BuildSettings(...)})``.

    ``temp_base`` is the directory under which the private (0700) temporary directories of
    checkouts and of the backends' work are made, instead of the system's temporary
    directory (a faster disk, or one a test can search for leftovers); None for the default.
    """

    temp_base: Path | None = None
