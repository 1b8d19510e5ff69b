"""Base classes of the spec sections that plugins contribute, tagged by ``kind``.

A plugin subclasses one of these with an attrs class whose ``kind`` field is a ``Literal`` of
its name, and registers it (``registry.add_cloud_provider(...)`` and friends). The converter
picks the class by the section's ``kind``; an unknown kind is an error naming the kinds that
the installed plugins provide.
"""

from __future__ import annotations

import datetime
from typing import ClassVar

import attrs

from qengine.spec._common import SecretRef


@attrs.frozen(kw_only=True)
class PluginSection:
    """A section whose shape a plugin defines; ``kind`` selects the plugin.

    :ivar kind: Which plugin's section this is: one of the kinds the installed plugins register.
    """

    family: ClassVar[str] = "section"
    kind: str


@attrs.frozen(kw_only=True)
class ProviderSpec(PluginSection):
    """A cloud provider's cluster settings (``cluster.provider`` of an infrastructure job)."""

    family: ClassVar[str] = "cloud provider"


@attrs.frozen(kw_only=True)
class TargetSpec(PluginSection):
    """How an environment job reaches its cluster (``target``): kubeconfig, in-cluster, ...

    ``local_only`` is true for a target that never reaches a cluster beyond this machine; a
    ``--sandbox`` run (plain-text demo secrets) accepts only such targets and ``sandbox``.
    """

    family: ClassVar[str] = "cluster target"
    local_only: ClassVar[bool] = False


@attrs.frozen(kw_only=True)
class RegistrySpec(PluginSection):
    """A container registry images are pushed to (``registry``).

    ``pull_secret_lifetime`` is how long the registry's pull credential lasts once issued:
    None (the default) for one that lasts until someone changes it (a password), a duration
    for a short-lived token (an Artifact Registry access token, an ACR refresh token, an ECR
    authorization token). :attr:`needs_pull_secret` tells a cluster target whether its
    workloads need a pull Secret made from the registry's
    :meth:`~qengine.plugin.ContainerRegistry.pull_secret`.
    """

    family: ClassVar[str] = "container registry"
    pull_secret_lifetime: ClassVar[datetime.timedelta | None] = None

    @property
    def needs_pull_secret(self) -> bool:
        """Whether a cluster needs a pull Secret to pull this registry's images: true for a
        short-lived token (``pull_secret_lifetime`` set) or a ``password`` field holding a
        secret reference; a registry a cluster reaches by its own identity overrides it."""
        password = getattr(self, "password", None)
        return self.pull_secret_lifetime is not None or isinstance(password, SecretRef)


@attrs.frozen(kw_only=True)
class BuildSpec(PluginSection):
    """A build backend (``build``): buildah, a Docker Engine API, ...

    The fields every backend shares: ``platform`` (``linux/arm64``...) is the platform of every
    image the job builds (the backend's host platform when unset); ``cache`` names a repository
    under the job's registry host for the layer cache (read and written as far as the backend
    can: see its documentation).

    :ivar platform: The platform of every image the job builds (``linux/arm64``...); unset, the
        backend's host platform.
    :ivar cache: A repository under the job's registry host for the layer cache.
    """

    family: ClassVar[str] = "build backend"
    platform: str | None = None
    cache: str | None = None


@attrs.frozen(kw_only=True)
class DnsSpec(PluginSection):
    """A DNS provider (``dns``) for routers' and clusters' records."""

    family: ClassVar[str] = "DNS provider"


SECTION_BASES: tuple[type[PluginSection], ...] = (
    ProviderSpec,
    TargetSpec,
    RegistrySpec,
    BuildSpec,
    DnsSpec,
)
