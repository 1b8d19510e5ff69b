"""What every step of one environment job shares: the job, its services, one cluster client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from qengine.spec import ApplicationService, EnvironmentJob, Service
from qengine_kubernetes import builds
from qengine_kubernetes.access import ClusterCell
from qengine_kubernetes.client import KubeApi
from qengine_kubernetes.placeholders import secret_token
from qengine_kubernetes.render import RenderedService, render_service
from qengine_kubernetes.render.names import namespace_name
from qengine_kubernetes.settings import KubeSettings

if TYPE_CHECKING:
    from qengine.plugin import JobServices


@attrs.frozen(kw_only=True)
class EnvJob:
    """One environment job as its steps see it: the job, its services, the plugin's settings
    and the job's one cluster client."""

    job: EnvironmentJob
    services: JobServices = attrs.field(repr=False)
    settings: KubeSettings
    cell: ClusterCell = attrs.field(repr=False)

    @classmethod
    def of(cls, job: EnvironmentJob, services: JobServices, settings: KubeSettings) -> EnvJob:
        """The shared context of ``job``; the cluster is reached on first use."""
        return cls(
            job=job, services=services, settings=settings, cell=ClusterCell(job.target, settings)
        )

    @property
    def namespace(self) -> str:
        """The environment's namespace."""
        return namespace_name(self.job.environment)

    def api(self) -> KubeApi:
        """The job's cluster client."""
        return self.cell.api()

    def service(self, name: str) -> Service:
        """The spec of service ``name``."""
        for service in self.job.environment.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def render(self, name: str, images: Mapping[str, str] | None = None) -> RenderedService:
        """Service ``name`` rendered with its real secret values and, for an application, the
        registry's pull Secret (inside a step only). ``images``: the built images."""
        pull = None
        if isinstance(self.service(name), ApplicationService):
            pull = builds.pull_payload(self.job, self.services)
        return render_service(
            self.job.environment,
            name,
            open_secret=self.open_secret,
            images=images,
            registry_pull=pull,
        )

    def render_public(self, name: str, images: Mapping[str, str] | None = None) -> RenderedService:
        """Service ``name`` rendered with placeholders for secret values."""
        return render_service(
            self.job.environment,
            name,
            open_secret=secret_token,
            images=images,
            registry_pull=builds.placeholder_payload(self.job),
        )

    def open_secret(self, name: str) -> str:
        """A secret's value (inside a step only)."""
        value: str = self.services.secrets.open(name).reveal()
        return value
