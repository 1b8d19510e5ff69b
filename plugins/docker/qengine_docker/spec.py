"""The ``docker`` build section, and the host's setting that overrides its engine address."""

from __future__ import annotations

from typing import Literal

import attrs

from qengine.spec import BuildSpec


@attrs.frozen(kw_only=True)
class DockerBuild(BuildSpec):
    """Builds through the Docker Engine API at ``host`` (``unix:///run/docker.sock`` when
    unset). ``platform`` (``linux/arm64``...) is the platform of every image the job builds;
    ``cache`` names a repository under the registry's host the engine may take cached layers
    from (``cachefrom``: the API cannot write a cache).

    :ivar host: The Docker Engine API address; unset, ``unix:///run/docker.sock`` (a host
        setting overrides it).
    """

    kind: Literal["docker"]
    host: str | None = None


@attrs.frozen(kw_only=True)
class DockerSettings:
    """The host's settings of the plugin (``Engine(settings={"docker": DockerSettings(...)})``):
    ``host``, when set, is the engine every docker build uses, whatever the job's section says
    (a host that runs its own engine, or a test's)."""

    host: str | None = None
