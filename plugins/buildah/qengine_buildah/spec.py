"""The ``buildah`` build section."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import BuildSpec


@attrs.frozen(kw_only=True)
class BuildahBuild(BuildSpec):
    """Builds with buildah on the machine running the job.

    ``platform`` (``linux/amd64``...) is the default for every service; ``cache`` names a
    repository (under the job's registry) for the layer cache (``--cache-from/--cache-to``);
    ``layers`` keeps intermediate layers (needed by the cache).
    """

    kind: Literal["buildah"]
    platform: str | None = None
    cache: str | None = None
    layers: bool = False
