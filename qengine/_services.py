"""What a job's plugins may use: its secrets, the engine's settings, and the providers of the
job's sections, built on demand through the registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs

from qengine.spec import EnvironmentJob, InfrastructureJob, Job
from qengine.spec._sections import PluginSection

if TYPE_CHECKING:
    from qengine._job_secrets import JobSecrets
    from qengine._session import SandboxSession
    from qengine.interfaces import (
        BuildBackend,
        ContainerRegistry,
        DnsProvider,
        EnvEngine,
        InfraEngine,
    )

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 -- the interface a factory returns


class ProviderFactories(Protocol):
    """What the services need of the registry: build the provider of a section (the
    :class:`~qengine.plugin.Registry` is one)."""

    def build(
        self, section: PluginSection, services: JobServices, interface: Callable[..., I]
    ) -> I:
        """Call the factory registered for ``section``'s kind; see ``Registry.build``."""
        ...


@attrs.frozen(kw_only=True)
class JobServices:
    """What a plugin's factories and steps may use for one job.

    ``secrets.open(name)`` opens a sealed secret: call it only inside a step's ``run``, so that
    planning opens nothing. ``settings`` holds per-plugin engine settings, by plugin name: what
    the host configured (``Engine(settings=...)``, the command line through
    ``qengine_engine_settings``), overlaid in a sandbox run by what ``qengine_sandbox``
    returned. ``session`` is the sandbox session of a sandbox run (None otherwise).
    """

    job: Job
    secrets: JobSecrets
    registry: ProviderFactories
    settings: Mapping[str, object] = attrs.field(factory=dict)
    session: SandboxSession | None = None

    @property
    def sandbox(self) -> bool:
        """True in a sandbox run."""
        return self.session is not None

    def settings_for(self, plugin: str, kind: type[T]) -> T | None:
        """The settings given for ``plugin`` if they are a ``kind``, else None."""
        found = self.settings.get(plugin)
        return found if isinstance(found, kind) else None

    def env_engine(self) -> EnvEngine:
        """The environment engine of the job's target (an environment job's)."""
        from qengine.interfaces import EnvEngine

        job = self.job
        if not isinstance(job, EnvironmentJob):
            raise TypeError("only an environment job has a target")
        return self.registry.build(job.target, self, EnvEngine)

    def infra_engine(self) -> InfraEngine:
        """The infrastructure engine of the job's cloud provider (an infrastructure job's)."""
        from qengine.interfaces import InfraEngine

        job = self.job
        if not isinstance(job, InfrastructureJob):
            raise TypeError("only an infrastructure job has a cloud provider")
        return self.registry.build(job.cluster.provider, self, InfraEngine)

    def container_registry(self) -> ContainerRegistry | None:
        """The registry of the job's ``registry`` section, or None when it has none."""
        from qengine.interfaces import ContainerRegistry

        section = getattr(self.job, "registry", None)
        return None if section is None else self.registry.build(section, self, ContainerRegistry)

    def build_backend(self) -> BuildBackend | None:
        """The backend of the job's ``build`` section, or None when it has none."""
        from qengine.interfaces import BuildBackend

        section = getattr(self.job, "build", None)
        return None if section is None else self.registry.build(section, self, BuildBackend)

    def dns_provider(self) -> DnsProvider | None:
        """The provider of the job's ``dns`` section, or None when it has none."""
        from qengine.interfaces import DnsProvider

        section = getattr(self.job, "dns", None)
        return None if section is None else self.registry.build(section, self, DnsProvider)
