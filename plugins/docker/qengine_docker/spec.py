"""The ``docker`` build section."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import BuildSpec


@attrs.frozen(kw_only=True)
class DockerBuild(BuildSpec):
    """Builds through the Docker Engine API at ``host`` (``unix:///run/docker.sock`` when
    unset). ``platform`` is the default for every service."""

    kind: Literal["docker"]
    host: str | None = None
    platform: str | None = None
