"""The ``buildah`` build section."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import BuildSpec


@attrs.frozen(kw_only=True)
class BuildahBuild(BuildSpec):
    """Builds with buildah on the machine running the job.

    ``platform`` (``linux/arm64``...) is the platform of every image the job builds (the
    machine's when unset); ``cache`` names a repository under the registry's host for the layer
    cache, read and written (``--layers --cache-from --cache-to``); ``layers`` keeps
    intermediate layers during the build even without a cache.

    :ivar layers: Whether intermediate layers are kept during the build even without a cache.
    """

    kind: Literal["buildah"]
    layers: bool = False
